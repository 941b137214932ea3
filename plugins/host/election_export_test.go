package host

// Test hooks for election_test.

// PluginPID is the current election plugin process's pid, 0 while down.
func (f *ElectionFactory) PluginPID() int {
	if p := f.current(); p != nil {
		return p.pid()
	}
	return 0
}
