package chunkio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func TestReadsInFeedOrderWithinChunks(t *testing.T) {
	r := NewReader()
	r.Feed([]byte("hello"))
	r.Feed(nil) // dropped
	r.Feed([]byte(", world"))
	if got := r.Buffered(); got != 12 {
		t.Fatalf("Buffered %d", got)
	}
	p := make([]byte, 100)
	// A Read never joins two chunks.
	if n, err := r.Read(p); err != nil || string(p[:n]) != "hello" {
		t.Fatalf("first read %q %v", p[:n], err)
	}
	if n, err := r.Read(p[:3]); err != nil || string(p[:n]) != ", w" {
		t.Fatalf("partial read %q %v", p[:n], err)
	}
	if n, err := r.Read(p); err != nil || string(p[:n]) != "orld" {
		t.Fatalf("rest %q %v", p[:n], err)
	}
	if n, err := r.Read(p[:0]); n != 0 || err != nil {
		t.Fatalf("empty read: %d %v", n, err)
	}
	if r.Buffered() != 0 {
		t.Fatalf("Buffered %d after draining", r.Buffered())
	}
}

func TestReadBlocksUntilFeed(t *testing.T) {
	r := NewReader()
	got := make(chan string)
	go func() {
		p := make([]byte, 8)
		n, _ := r.Read(p)
		got <- string(p[:n])
	}()
	r.Feed([]byte("late"))
	if s := <-got; s != "late" {
		t.Fatalf("read %q", s)
	}
}

func TestCloseDrainsThenEOF(t *testing.T) {
	r := NewReader()
	r.Feed([]byte("ab"))
	r.Close()
	r.Feed([]byte("dropped after close"))
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "ab" {
		t.Fatalf("ReadAll %q %v", b, err)
	}
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after drain: %v", err)
	}
}

func TestCloseUnblocksWaitingReaders(t *testing.T) {
	boom := errors.New("link down")
	for name, closeFn := range map[string]func(*Reader){
		"Close":          func(r *Reader) { r.Close() },
		"CloseWithError": func(r *Reader) { r.CloseWithError(boom) },
	} {
		r := NewReader()
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				_, err := r.Read(make([]byte, 4))
				errs <- err
			}()
		}
		closeFn(r)
		for range 3 {
			err := <-errs
			if name == "Close" && err != io.EOF || name == "CloseWithError" && !errors.Is(err, boom) {
				t.Fatalf("%s: reader got %v", name, err)
			}
		}
	}
}

func TestCloseWithErrorDropsQueued(t *testing.T) {
	boom := errors.New("link down")
	r := NewReader()
	r.Feed([]byte("pending"))
	r.CloseWithError(boom)
	r.Close() // the first close wins
	if n, err := r.Read(make([]byte, 8)); n != 0 || !errors.Is(err, boom) {
		t.Fatalf("read %d %v", n, err)
	}
	if r.Buffered() != 0 {
		t.Fatal("queued bytes kept")
	}
	r2 := NewReader()
	r2.CloseWithError(nil)
	if _, err := r2.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("CloseWithError(nil): %v", err)
	}
}

// TestConcurrentFeedAndRead streams random chunks through a Reader from a
// feeding goroutine to a reading one (run under -race).
func TestConcurrentFeedAndRead(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var want bytes.Buffer
	var chunks [][]byte
	for range 2000 {
		c := make([]byte, rng.IntN(300))
		for i := range c {
			c[i] = byte(rng.Uint32())
		}
		want.Write(c)
		chunks = append(chunks, c)
	}
	r := NewReader()
	go func() {
		for _, c := range chunks {
			r.Feed(c)
		}
		r.Close()
	}()
	var got bytes.Buffer
	p := make([]byte, 97)
	for {
		n, err := r.Read(p)
		got.Write(p[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("stream differs: %d bytes read, %d fed", got.Len(), want.Len())
	}
}
