// Command testplugin is a store plugin for plugins/host's tests: a
// store.mem store with faults to inject, chosen by its options:
//
//	dbid        the database id to report (default: random per process)
//	stallAfter  appends to serve before every later Append blocks forever
//
// TESTPLUGIN_PROTOCOL=n in its environment makes it claim protocol n.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/plugins/sdk"
	"github.com/zabkit/zabkit/stores/mem"
)

type options struct {
	DBID       string `json:"dbid"`
	StallAfter int64  `json:"stallAfter"`
}

type store struct {
	*mem.Store
	id         string
	stallAfter int64
	appends    atomic.Int64
}

func (s *store) DBID() string { return s.id }

func (s *store) Append(ctx context.Context, es []ext.Entry) error {
	if s.stallAfter > 0 && s.appends.Add(1) > s.stallAfter {
		select {} // a disk that never answers
	}
	return s.Store.Append(ctx, es)
}

func open(_ context.Context, req sdk.StoreRequest) (sdk.Store, error) {
	var o options
	if err := registry.DecodeOptions(req.Options, &o); err != nil {
		return nil, err
	}
	if o.DBID == "" {
		b := make([]byte, 8)
		rand.Read(b)
		o.DBID = hex.EncodeToString(b)
	}
	req.Logger.Info("testplugin open", "dbid", o.DBID)
	fmt.Fprintln(os.Stderr, "testplugin: a plain stderr line")
	return &store{Store: mem.New(), id: o.DBID, stallAfter: o.StallAfter}, nil
}

func main() {
	if v, err := strconv.Atoi(os.Getenv("TESTPLUGIN_PROTOCOL")); err == nil {
		sdk.Handshake.ProtocolVersion = uint(v)
	}
	sdk.ServeStore(open)
}
