// go_echo: a goroutine-per-connection echo server, the Go peer in
// scripts/bench (run with GOMAXPROCS=1 so it gets one core, like the others).
// Same command line as tests/legacy/echo_server.c:
//
//	go_echo PORT [MAX_CONNS]
//
// Listens on 127.0.0.1:PORT (0 picks a free port) and prints "listening PORT".
// With MAX_CONNS > 0 it stops accepting after that many connections and exits
// once they are all closed; without it it serves until killed.
// Standard library only: it builds with no module downloads.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func serve(c net.Conn, wg *sync.WaitGroup) {
	defer wg.Done()
	defer c.Close()
	// A plain read/write loop like the C server (io.Copy could splice).
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "usage: %s PORT [MAX_CONNS]\n", os.Args[0])
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad port %q\n", os.Args[1])
		os.Exit(2)
	}
	maxConns := 0
	if len(os.Args) > 2 {
		maxConns, _ = strconv.Atoi(os.Args[2])
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)

	var wg sync.WaitGroup
	for accepted := 0; maxConns == 0 || accepted < maxConns; {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				fmt.Fprintln(os.Stderr, "accept:", err)
				os.Exit(1)
			}
			// EMFILE and the like: say so, back off a little, go on.
			fmt.Fprintln(os.Stderr, "accept:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		accepted++
		wg.Add(1)
		go serve(c, &wg) // TCP_NODELAY is Go's default
	}
	ln.Close()
	wg.Wait()
	fmt.Println("served", maxConns, "connections")
}
