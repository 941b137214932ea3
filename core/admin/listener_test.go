package admin

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// serveFourLetterWords is the client-listener recipe from the package doc,
// run over real loopback sockets.
func serveFourLetterWords(t *testing.T, ln net.Listener, src Source, wl Whitelist, wg *sync.WaitGroup) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			var hdr [4]byte
			if _, err := io.ReadFull(conn, hdr[:]); err != nil {
				return
			}
			word, ok := IsFourLetterWord(int32(binary.BigEndian.Uint32(hdr[:])))
			if !ok {
				return // a real listener would continue with the handshake
			}
			if err := Respond(conn, conn, word, src, wl); err != nil {
				t.Errorf("Respond(%s): %v", word, err)
			}
		}()
	}
}

func ask(t *testing.T, addr string, payload []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFourLetterWordsOverTCP(t *testing.T) {
	defer traceMask.Store(306)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		serveFourLetterWords(t, ln, refSource(), ParseWhitelist("ruok,stmk,gtmk", false), &wg)
		close(done)
	}()
	addr := ln.Addr().String()

	if got := ask(t, addr, []byte("ruok")); got != "imok" {
		t.Errorf("ruok = %q", got)
	}
	if got := ask(t, addr, []byte("srvr")); !strings.HasPrefix(got, "Zookeeper version: 3.8.4-zabkit-") || !strings.HasSuffix(got, "Node count: 8\n") {
		t.Errorf("srvr = %q", got)
	}
	if got := ask(t, addr, []byte("cons")); got != "cons is not executed because it is not in the whitelist.\n" {
		t.Errorf("cons = %q", got)
	}
	if got := ask(t, addr, append([]byte("stmk"), 0, 0, 0, 0, 0, 0, 0x10, 0)); got != "4096" {
		t.Errorf("stmk = %q", got)
	}
	if got := ask(t, addr, []byte("gtmk")); got != "4096" {
		t.Errorf("gtmk = %q", got)
	}
	// A ConnectRequest length (44 + passwd) is not a word: nothing comes back.
	if got := ask(t, addr, []byte{0, 0, 0, 45}); got != "" {
		t.Errorf("handshake length answered %q", got)
	}
	ln.Close()
	<-done
	wg.Wait()
}
