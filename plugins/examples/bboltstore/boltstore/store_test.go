package boltstore_test

import (
	"os"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"

	"example.com/bboltstore/boltstore"
)

// The kit in process, on the store itself; plugin_test.go in the module
// root runs it again through the plugin binary.
func open(dir string) (ext.Store, error) {
	s, err := boltstore.Open(boltstore.Options{Dir: dir, Sync: true})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func TestMain(m *testing.M) {
	storetest.CrashMain(open)
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) { storetest.Run(t, storetest.Opener(open).OpenFunc()) }

func TestCrash(t *testing.T) { storetest.RunCrash(t, open, storetest.CrashOptions{}) }

func BenchmarkAppend(b *testing.B) { storetest.BenchmarkAppend(b, open) }
