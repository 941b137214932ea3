//go:build !linux

package sdk

import "errors"

// deathSignal has no kernel support outside Linux; watchParent polls.
func deathSignal() error { return errors.New("no PR_SET_PDEATHSIG on this system") }
