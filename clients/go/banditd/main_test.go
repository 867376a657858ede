package banditd_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/banditd/banditd/clients/go/banditd"
)

// serverAddr is the address of the banditd started by TestMain.
var serverAddr string

func serverBinary() (string, bool) {
	if p := os.Getenv("BANDITD_BINARY"); p != "" {
		return p, true
	}
	p, _ := filepath.Abs(filepath.Join("..", "..", "..", "build", "banditd"))
	return p, false
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs the banditd binary on a free port with a fresh data
// directory and waits until its health service reports SERVING.
func startServer(dataDir string, port int, extraArgs ...string) (*exec.Cmd, string, error) {
	bin, _ := serverBinary()
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, "", err
		}
	}
	args := append([]string{fmt.Sprintf("--port=%d", port), "--data_dir=" + dataDir}, extraArgs...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := banditd.Dial(addr)
	if err != nil {
		cmd.Process.Kill()
		return nil, "", err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitUntilServing(ctx); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, "", fmt.Errorf("banditd at %s not serving: %w", addr, err)
	}
	return cmd, addr, nil
}

func stopServer(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func TestMain(m *testing.M) {
	bin, explicit := serverBinary()
	if _, err := os.Stat(bin); err != nil {
		if explicit {
			fmt.Fprintf(os.Stderr, "BANDITD_BINARY=%s: %v\n", bin, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "skipping: no banditd binary at %s (run scripts/build.sh or set BANDITD_BINARY)\n", bin)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "banditd-go-test")
	if err != nil {
		panic(err)
	}
	cmd, addr, err := startServer(filepath.Join(dir, "data"), 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	serverAddr = addr
	code := m.Run()
	stopServer(cmd)
	os.RemoveAll(dir)
	os.Exit(code)
}
