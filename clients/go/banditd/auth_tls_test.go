package banditd_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/banditd/banditd/clients/go/banditd"
	pb "github.com/banditd/banditd/clients/go/banditdpb"
)

const (
	adminToken  = "admin-token-go-0123456789"
	clientToken = "client-token-go-0123456789"
)

// TestTokensOverTLS runs a server with --auth_tokens_file and --tls_cert and
// checks each role's access through WithToken and WithTLSRoots.
func TestTokensOverTLS(t *testing.T) {
	testdata, _ := filepath.Abs(filepath.Join("..", "..", "..", "tests", "testing", "testdata"))
	roots, err := os.ReadFile(filepath.Join(testdata, "localhost.crt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("admin "+adminToken+"\nclient "+clientToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := serverBinary()
	cmd := exec.Command(bin, fmt.Sprintf("--port=%d", port), "--data_dir="+filepath.Join(dir, "data"),
		"--auth_tokens_file="+tokens, "--tls_cert="+filepath.Join(testdata, "localhost.crt"),
		"--tls_key="+filepath.Join(testdata, "localhost.key"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	target := fmt.Sprintf("localhost:%d", port)
	dial := func(opts ...banditd.Option) *banditd.Client {
		c, err := banditd.Dial(target, append([]banditd.Option{banditd.WithTLSRoots(roots)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	admin, client, anonymous := dial(banditd.WithToken(adminToken)), dial(banditd.WithToken(clientToken)), dial()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := anonymous.WaitUntilServing(ctx); err != nil { // health needs no token
		t.Fatal(err)
	}
	if _, err := anonymous.CreateRoom(ctx, "go-auth", []string{"a"}, nil); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: got %v, want UNAUTHENTICATED", err)
	}
	if _, err := client.CreateRoom(ctx, "go-auth", []string{"a"}, nil); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("client token on CreateRoom: got %v, want PERMISSION_DENIED", err)
	}
	if _, err := admin.CreateRoom(ctx, "go-auth", []string{"a"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Feedback(ctx, &pb.FeedbackEvent{RoomId: "go-auth", ArmId: "a", Views: 3}); err != nil {
		t.Fatal(err)
	}
	if stats, err := client.Stats(ctx, "go-auth", "", false); err != nil || stats.GetTotalViews() != 3 {
		t.Fatalf("stats: %v %v", stats, err)
	}
	if err := client.DeleteRoom(ctx, "go-auth"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("client token on DeleteRoom: got %v, want PERMISSION_DENIED", err)
	}
	if status, err := anonymous.Health(ctx); err != nil || status != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", status, err)
	}
}

func TestWithTLSRootsRejectsBadPEM(t *testing.T) {
	if _, err := banditd.Dial("localhost:1", banditd.WithTLSRoots([]byte("not a certificate"))); err == nil {
		t.Fatal("want an error")
	}
}
