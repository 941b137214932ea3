//go:build !linux

package admin

// FileDescriptorCounts returns -1, -1 where descriptor counts are not
// available without platform-specific code.
func FileDescriptorCounts() (open, max int64) { return -1, -1 }
