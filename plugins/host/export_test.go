package host

// Test hooks for host_test.

// PluginPID is the current plugin process's pid, 0 without one.
func (s *Store) PluginPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return 0
	}
	return s.sess.proc.pid()
}

// FailForTest fails the current session as a dead plugin would.
func (s *Store) FailForTest(err error) {
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	sess.fail(err)
}
