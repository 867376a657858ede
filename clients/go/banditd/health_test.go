package banditd_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/banditd/banditd/clients/go/banditd"
	pb "github.com/banditd/banditd/clients/go/banditdpb"
)

// The health service says SERVING once recovery has completed (here: after a
// restart on the same data directory, with the data back) and NOT_SERVING
// while the server drains after SIGTERM.
func TestHealthAcrossRestartAndDrain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()

	cmd, addr, err := startServer(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := banditd.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	check(c.CreateRoom(ctx, "durable", []string{"a"}, nil))(t)
	check(c.Feedback(ctx, &pb.FeedbackEvent{RoomId: "durable", ArmId: "a", Views: 7, Clicks: 2}))(t)
	c.Close()
	stopServer(cmd)

	cmd, addr, err = startServer(dir, 0, "--drain_timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	defer stopServer(cmd)
	c, err = banditd.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// startServer returned after the first SERVING answer: recovery is done.
	st := check(c.Stats(ctx, "durable", "", false))(t)
	if v := st.GetArms()[0].GetCounts().GetViews(); v != 7 {
		t.Fatalf("views after restart = %v, want 7", v)
	}

	watchCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	watch, err := healthpb.NewHealthClient(c.Conn()).Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := watch.Recv()
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch answer = %v, %v; want SERVING", first, err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	next, err := watch.Recv()
	if err != nil {
		t.Fatalf("Watch ended without reporting NOT_SERVING: %v", err)
	}
	if next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("status while draining = %v, want NOT_SERVING", next.GetStatus())
	}
}
