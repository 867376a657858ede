package banditd_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/banditd/banditd/clients/go/banditd"
	pb "github.com/banditd/banditd/clients/go/banditdpb"
)

// Two replicas in cluster mode on a single-node NATS JetStream server (the
// nats-server on PATH; scripts/test.sh puts the pinned release first). Fails,
// not skips, when nats-server is missing.
func TestSessionReadsItsWritesOnAnotherReplica(t *testing.T) {
	nats, err := exec.LookPath("nats-server")
	if err != nil {
		t.Fatal("nats-server is not installed: run scripts/setup.sh")
	}
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "nats.log"))
	if err != nil {
		t.Fatal(err)
	}
	natsCmd := exec.Command(nats, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", filepath.Join(dir, "nats"))
	natsCmd.Stdout, natsCmd.Stderr = log, log
	if err := natsCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { natsCmd.Process.Kill(); natsCmd.Wait() }()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(dir, "nats.log")); strings.Contains(string(b), "Server is ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nats-server did not start")
		}
	}
	flags := []string{fmt.Sprintf("--cluster_nats=nats://127.0.0.1:%d", port), "--cluster_replicas=1",
		"--cluster_read_wait_timeout=300ms"}
	var addrs []string
	for _, name := range []string{"a", "b"} {
		cmd, addr, err := startServer(filepath.Join(dir, name), 0, flags...)
		if err != nil {
			t.Fatal(err)
		}
		defer stopServer(cmd)
		addrs = append(addrs, addr)
	}
	a, err := banditd.Dial(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := banditd.Dial(addrs[1], banditd.WithRetry(banditd.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	room := newRoomID(t)
	if _, err := a.CreateRoom(ctx, room, []string{"x", "y"}, nil); err != nil {
		t.Fatal(err)
	}
	session := a.Session()
	onB := session.On(b)
	var last uint64
	for i := 1; i <= 10; i++ {
		resp, err := session.Feedback(ctx, &pb.FeedbackEvent{RoomId: room, ArmId: "x", Views: 1, EventId: fmt.Sprint("e", i)})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAppliedSequence() <= last || session.AppliedSequence() != resp.GetAppliedSequence() {
			t.Fatalf("write %d: sequence %d after %d, session at %d", i, resp.GetAppliedSequence(), last, session.AppliedSequence())
		}
		last = resp.GetAppliedSequence()
		stats, err := onB.Stats(ctx, room, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if got := stats.GetArms()[0].GetCounts().GetViews(); got != float64(i) {
			t.Fatalf("replica b after write %d: %v views of x", i, got)
		}
	}
	if _, err := onB.Sample(ctx, &pb.SampleRequest{RoomId: room}); err != nil {
		t.Fatal(err)
	}
	_, err = b.Stats(ctx, room, "", false) // plain call: no wait
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Sample(ctx, &pb.SampleRequest{RoomId: room, MinAppliedSequence: last + 10000})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "min_applied_sequence") {
		t.Fatalf("unreached sequence: %v", err)
	}
}
