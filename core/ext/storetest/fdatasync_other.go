//go:build !linux

package storetest

import "os"

// fdatasync falls back to fsync where the OS has no fdatasync.
func fdatasync(f *os.File) error { return f.Sync() }
