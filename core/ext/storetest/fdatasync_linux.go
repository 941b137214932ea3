package storetest

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync is what a txn log's sync costs at least: data, and metadata
// only where needed to read it back (a grown size, new blocks).
func fdatasync(f *os.File) error {
	for {
		if err := unix.Fdatasync(int(f.Fd())); err != unix.EINTR {
			return err
		}
	}
}
