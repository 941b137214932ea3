package link

// Turn orders the successive connections to one peer so that the inbox
// sees everything of one connection (its messages, then its Down event)
// before the Up event of the next. Each connection's goroutine waits for
// its turn, announces Up, serves, announces Down and ends its turn; the
// next connection's goroutine starts announcing only then. No lock is held
// across inbox calls, and no extra goroutine sits in the message path.
type Turn struct {
	prev <-chan struct{}
	done chan struct{}
}

// FirstTurn returns a turn that has already ended, to start a chain.
func FirstTurn() *Turn {
	t := &Turn{done: make(chan struct{})}
	close(t.done)
	t.prev = t.done
	return t
}

// Next returns the turn after t. The caller serialises calls to Next for
// one chain (it holds the lock that guards the peer's current connection).
func (t *Turn) Next() *Turn { return &Turn{prev: t.done, done: make(chan struct{})} }

// Wait blocks until the previous turn ended or quit closes; it reports
// whether the turn came.
func (t *Turn) Wait(quit <-chan struct{}) bool {
	select {
	case <-t.prev:
		return true
	case <-quit:
		return false
	}
}

// End ends the turn. Every turn made by Next must be ended exactly once,
// or the chain stalls.
func (t *Turn) End() { close(t.done) }
