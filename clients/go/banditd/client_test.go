package banditd_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/banditd/banditd/clients/go/banditd"
	pb "github.com/banditd/banditd/clients/go/banditdpb"
)

var roomSeq atomic.Int64

func newRoomID(t *testing.T) string {
	return fmt.Sprintf("go-%d-%d", time.Now().UnixNano()%1e9, roomSeq.Add(1))
}

func dial(t *testing.T, opts ...banditd.Option) *banditd.Client {
	t.Helper()
	c, err := banditd.Dial(serverAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// check(f())(t) returns f's value and fails the test on f's error.
func check[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func armIDs[A interface{ GetArmId() string }](arms []A) []string {
	ids := make([]string, len(arms))
	for i, a := range arms {
		ids[i] = a.GetArmId()
	}
	return ids
}

func TestHealth(t *testing.T) {
	c := dial(t)
	st := check(c.Health(context.Background()))(t)
	if st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, want SERVING", st)
	}
}

func TestRoomLifecycle(t *testing.T) {
	ctx := context.Background()
	c := dial(t)
	id := newRoomID(t)

	room := check(c.CreateRoom(ctx, id, []string{"a", "b"}, nil))(t)
	if got := armIDs(room.GetArms()); strings.Join(got, ",") != "a,b" {
		t.Fatalf("arms = %v", got)
	}
	if room.GetPolicy().GetType() != pb.PolicyType_POLICY_TYPE_KL_UCB || room.GetPolicy().GetUcbAlpha() != 1 {
		t.Fatalf("default policy = %v", room.GetPolicy())
	}
	if got := check(c.GetRoom(ctx, id))(t); !proto.Equal(got, room) {
		t.Fatalf("GetRoom = %v, want %v", got, room)
	}
	room = check(c.AddArms(ctx, id, "c", "d"))(t)
	if len(room.GetArms()) != 0 || room.GetArmCount() != 4 {
		t.Fatalf("AddArms reply = %v, want no arms and arm_count 4", room)
	}
	if got := strings.Join(armIDs(check(c.ListArms(ctx, id))(t)), ","); got != "a,b,c,d" {
		t.Fatalf("after AddArms: %v", got)
	}
	if err := c.RemoveArm(ctx, id, "d"); err != nil {
		t.Fatal(err)
	}
	arm := check(c.SetArmEnabled(ctx, id, "c", false))(t)
	if arm.GetArmId() != "c" || arm.GetEnabled() {
		t.Fatalf("SetArmEnabled = %v", arm)
	}
	rooms := check(c.ListRooms(ctx))(t)
	var ids []string
	for _, r := range rooms {
		ids = append(ids, r.GetRoomId())
	}
	if !sort.StringsAreSorted(ids) || sort.SearchStrings(ids, id) == len(ids) || ids[sort.SearchStrings(ids, id)] != id {
		t.Fatalf("ListRooms = %v, want sorted and containing %s", ids, id)
	}

	check(c.Feedback(ctx, &pb.FeedbackEvent{RoomId: id, ArmId: "a", Views: 3, Clicks: 1}))(t)
	if err := c.ResetRoom(ctx, id); err != nil {
		t.Fatal(err)
	}
	st := check(c.Stats(ctx, id, "", false))(t)
	for _, a := range st.GetArms() {
		if a.GetCounts().GetViews() != 0 {
			t.Fatalf("after reset: %v", a)
		}
	}
	if err := c.DeleteRoom(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRoom(ctx, id); !errors.Is(err, banditd.ErrNotFound) {
		t.Fatalf("GetRoom after delete: %v", err)
	}
}

func TestSampleFeedbackStats(t *testing.T) {
	ctx := context.Background()
	c := dial(t)
	id := newRoomID(t)
	check(c.CreateRoom(ctx, id, []string{"a", "b", "c"}, &pb.Policy{Type: pb.PolicyType_POLICY_TYPE_CTR}))(t)

	// k=0 means one arm; unseen arms score +Infinity.
	resp := check(c.Sample(ctx, &pb.SampleRequest{RoomId: id}))(t)
	if len(resp.GetArms()) != 1 || !math.IsInf(resp.GetArms()[0].GetScore(), 1) {
		t.Fatalf("Sample k=0 = %v", resp)
	}
	fb := check(c.Feedback(ctx,
		&pb.FeedbackEvent{RoomId: id, ArmId: "a", Views: 10, Clicks: 2, EventId: id + "-1"},
		&pb.FeedbackEvent{RoomId: id, ArmId: "b", Views: 10, Clicks: 6, Segment: "country=PL", ContextItems: []string{"hour=13"}},
		&pb.FeedbackEvent{RoomId: id, ArmId: "c", Views: 10, Clicks: 4, Reward: proto.Float64(9.5)},
	))(t)
	if fb.GetAppliedEvents() != 3 || fb.GetDuplicateEvents() != 0 {
		t.Fatalf("Feedback = %v", fb)
	}
	dup := check(c.Feedback(ctx, &pb.FeedbackEvent{RoomId: id, ArmId: "a", Views: 10, EventId: id + "-1"}))(t)
	if dup.GetDuplicateEvents() != 1 || dup.GetAppliedEvents() != 0 {
		t.Fatalf("duplicate Feedback = %v", dup)
	}
	resp = check(c.Sample(ctx, &pb.SampleRequest{RoomId: id, K: 3}))(t)
	if got := strings.Join(armIDs(resp.GetArms()), ","); got != "b,c,a" {
		t.Fatalf("ranking = %s", got)
	}
	if best := check(c.SampleOne(ctx, id))(t); best != "b" {
		t.Fatalf("SampleOne = %s", best)
	}
	resp = check(c.Sample(ctx, &pb.SampleRequest{RoomId: id, K: 3, ExcludedArmIds: []string{"b"}, Seed: proto.Uint64(1)}))(t)
	if got := strings.Join(armIDs(resp.GetArms()), ","); got != "c,a" {
		t.Fatalf("ranking without b = %s", got)
	}

	st := check(c.Stats(ctx, id, "", false))(t)
	if st.GetTotalViews() != 30 || st.GetArms()[2].GetCounts().GetRewardSum() != 9.5 || st.GetArms()[1].GetCtr() != 0.6 {
		t.Fatalf("Stats = %v", st)
	}
	seg := check(c.Stats(ctx, id, "country=PL", true))(t)
	if seg.GetTotalViews() != 10 || len(seg.GetArms()[1].GetContext()) != 1 || seg.GetArms()[1].GetContext()[0].GetContextItem() != "hour=13" {
		t.Fatalf("segment Stats = %v", seg)
	}
}

func TestErrorsKeepStatus(t *testing.T) {
	ctx := context.Background()
	c := dial(t)
	id := newRoomID(t)
	check(c.CreateRoom(ctx, id, []string{"a"}, nil))(t)

	cases := []struct {
		name     string
		err      error
		code     codes.Code
		sentinel error
		prefix   string
	}{
		{"unknown room", func() error { _, err := c.Sample(ctx, &pb.SampleRequest{RoomId: id + "x"}); return err }(), codes.NotFound, banditd.ErrNotFound, "room_id"},
		{"room exists", func() error { _, err := c.CreateRoom(ctx, id, nil, nil); return err }(), codes.AlreadyExists, banditd.ErrAlreadyExists, "room_id"},
		{"arm exists", func() error { _, err := c.AddArms(ctx, id, "a"); return err }(), codes.AlreadyExists, banditd.ErrAlreadyExists, "arm_ids[0]"},
		{"bad room id", func() error { _, err := c.GetRoom(ctx, "bad id"); return err }(), codes.InvalidArgument, banditd.ErrInvalidArgument, "room_id"},
		{"bad event", func() error {
			_, err := c.Feedback(ctx, &pb.FeedbackEvent{RoomId: id, ArmId: "a", Views: 1}, &pb.FeedbackEvent{RoomId: id, ArmId: "zz", Views: 1})
			return err
		}(), codes.NotFound, banditd.ErrNotFound, "events[1].arm_id"},
		{"bad k", func() error { _, err := c.Sample(ctx, &pb.SampleRequest{RoomId: id, K: -1}); return err }(), codes.InvalidArgument, banditd.ErrInvalidArgument, "k"},
		{"unknown arm", func() error { return c.RemoveArm(ctx, id, "zz") }(), codes.NotFound, banditd.ErrNotFound, "arm_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("no error")
			}
			if got := status.Code(tc.err); got != tc.code {
				t.Fatalf("status.Code = %v, want %v (%v)", got, tc.code, tc.err)
			}
			if !errors.Is(tc.err, tc.sentinel) {
				t.Fatalf("errors.Is(%v, %v) = false", tc.err, tc.sentinel)
			}
			var be *banditd.Error
			if !errors.As(tc.err, &be) || be.Method == "" || !strings.HasPrefix(be.Message(), tc.prefix) {
				t.Fatalf("error %#v: want *banditd.Error with message starting %q", tc.err, tc.prefix)
			}
			if st, ok := status.FromError(tc.err); !ok || st.Message() != be.Message() {
				t.Fatalf("status.FromError lost the status: %v", tc.err)
			}
			// The field as data: google.rpc.BadRequest in the status details.
			want := []banditd.FieldViolation{{Field: tc.prefix, Description: strings.TrimPrefix(be.Message(), tc.prefix+": ")}}
			if got := be.FieldViolations(); !reflect.DeepEqual(got, want) {
				t.Fatalf("FieldViolations() = %+v, want %+v", got, want)
			}
		})
	}
	// An error that names no field has no violations.
	down := check(banditd.Dial("127.0.0.1:1", banditd.WithRetry(banditd.RetryPolicy{MaxAttempts: 1})))(t)
	defer down.Close()
	_, err := down.GetRoom(ctx, id)
	var be *banditd.Error
	if !errors.As(err, &be) || be.Code() != codes.Unavailable || be.FieldViolations() != nil {
		t.Fatalf("unreachable server: err %v, violations %+v", err, be)
	}
	// The failed batch applied nothing.
	if v := check(c.Stats(ctx, id, "", false))(t).GetArms()[0].GetCounts().GetViews(); v != 0 {
		t.Fatalf("views after failed batch = %v", v)
	}
}

func TestDeadline(t *testing.T) {
	c := dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	_, err := c.GetRoom(ctx, "x")
	if status.Code(err) != codes.DeadlineExceeded || !errors.Is(err, banditd.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want DEADLINE_EXCEEDED", err)
	}
}

func TestUnavailableRetries(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	retry := banditd.RetryPolicy{MaxAttempts: 3, InitialBackoff: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	c, err := banditd.Dial(addr, banditd.WithRetry(retry))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	start := time.Now()
	if _, err := c.GetRoom(ctx, "r"); !errors.Is(err, banditd.ErrUnavailable) {
		t.Fatalf("err = %v, want UNAVAILABLE", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("GetRoom failed after %v: not retried", d)
	}
	// Feedback without event ids is not retried; with them it is.
	start = time.Now()
	c.Feedback(ctx, &pb.FeedbackEvent{RoomId: "r", ArmId: "a", Views: 1})
	if d := time.Since(start); d >= 200*time.Millisecond {
		t.Fatalf("Feedback without event_id took %v: retried", d)
	}
	start = time.Now()
	c.Feedback(ctx, &pb.FeedbackEvent{RoomId: "r", ArmId: "a", Views: 1, EventId: "e"})
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("Feedback with event_id took %v: not retried", d)
	}
}

func TestRetryRidesOutServerStart(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	dir := t.TempDir()
	go func() {
		time.Sleep(500 * time.Millisecond)
		cmd, _, err := startServer(filepath.Join(dir, "data"), port)
		if err == nil {
			t.Cleanup(func() { stopServer(cmd) })
		}
		started <- err
	}()
	c, err := banditd.Dial(fmt.Sprintf("127.0.0.1:%d", port),
		banditd.WithRetry(banditd.RetryPolicy{MaxAttempts: 40, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}),
		banditd.WithTimeout(30*time.Second),
		banditd.WithDialOptions(grpc.WithConnectParams(fastReconnect)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.GetRoom(context.Background(), "late")
	if serr := <-started; serr != nil {
		t.Fatal(serr)
	}
	if !errors.Is(err, banditd.ErrNotFound) {
		t.Fatalf("err = %v, want NOT_FOUND once the server is up", err)
	}
}

func TestCreateRoomFromAndDecisionFeedback(t *testing.T) {
	ctx := context.Background()
	c := dial(t)
	id := newRoomID(t)
	room := check(c.CreateRoomFrom(ctx, &pb.CreateRoomRequest{
		RoomId: id, ArmIds: []string{"a", "b"},
		Decay: &pb.Decay{HalfLifeEvents: 500},
	}))(t)
	if room.GetDecay().GetHalfLifeEvents() != 500 {
		t.Fatalf("decay = %v", room.GetDecay())
	}
	resp := check(c.Sample(ctx, &pb.SampleRequest{RoomId: id}))(t)
	if resp.GetDecisionId() == "" {
		t.Skip("server runs without a decision cache")
	}
	check(c.Feedback(ctx, &pb.FeedbackEvent{DecisionId: resp.GetDecisionId(), Views: 1, Clicks: 1}))(t)
	st := check(c.Stats(ctx, id, "", false))(t)
	if st.GetTotalViews() != 1 {
		t.Fatalf("views after decision feedback = %v", st.GetTotalViews())
	}
}

func TestBoundedReplies(t *testing.T) {
	ctx := context.Background()
	c := dial(t)
	id := newRoomID(t)
	old := banditd.AddArmsChunk
	banditd.AddArmsChunk = 700
	defer func() { banditd.AddArmsChunk = old }()
	ids := make([]string, 2500)
	for i := range ids {
		ids[i] = fmt.Sprintf("arm-%04d", i)
	}
	// Created with 700 arms and three AddArms chunks.
	if room := check(c.CreateRoom(ctx, id, ids, nil))(t); room.GetArmCount() != 2500 || len(room.GetArms()) != 2500 {
		t.Fatalf("CreateRoom: %d arms listed, arm_count %d", len(room.GetArms()), room.GetArmCount())
	}
	if got := armIDs(check(c.GetRoom(ctx, id))(t).GetArms()); strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("GetRoom: %d arms, want every arm in order", len(got))
	}
	basic := check(c.GetRoomView(ctx, id, pb.RoomView_ROOM_VIEW_BASIC))(t)
	if len(basic.GetArms()) != 0 || basic.GetArmCount() != 2500 {
		t.Fatalf("BASIC view: %d arms, arm_count %d", len(basic.GetArms()), basic.GetArmCount())
	}
	for _, r := range check(c.ListRooms(ctx))(t) {
		if r.GetRoomId() == id && (len(r.GetArms()) != 0 || r.GetArmCount() != 2500) {
			t.Fatalf("ListRooms: %v arms, arm_count %d", len(r.GetArms()), r.GetArmCount())
		}
	}
	check(c.Feedback(ctx, &pb.FeedbackEvent{RoomId: id, ArmId: "arm-2001", Views: 3}))(t)
	pages := 0
	var seen []string
	err := c.ForEachStatsPage(ctx, &pb.GetStatsRequest{RoomId: id, PageSize: 1000}, func(p *pb.GetStatsResponse) error {
		pages++
		for _, a := range p.GetArms() {
			seen = append(seen, a.GetArmId())
		}
		return nil
	})
	if err != nil || pages != 3 || strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("stats pages: %d pages, %d arms, err %v", pages, len(seen), err)
	}
	named := check(c.StatsForArms(ctx, id, "", "arm-2001", "arm-0000"))(t)
	if got := named.GetArms(); len(got) != 2 || got[0].GetArmId() != "arm-2001" || got[0].GetCounts().GetViews() != 3 {
		t.Fatalf("StatsForArms = %v", got)
	}
}
