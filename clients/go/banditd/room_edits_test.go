package banditd_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/banditd/banditd/clients/go/banditd"
	pb "github.com/banditd/banditd/clients/go/banditdpb"
)

func armViews(t *testing.T, c *banditd.Client, room, segment, arm string) float64 {
	t.Helper()
	st := check(c.Stats(context.Background(), room, segment, false))(t)
	for _, a := range st.GetArms() {
		if a.GetArmId() == arm {
			return a.GetCounts().GetViews()
		}
	}
	t.Fatalf("no arm %s", arm)
	return -1
}

func TestUpdateRoomAndResetArm(t *testing.T) {
	ctx := context.Background()
	c := dial(t)
	id := newRoomID(t)
	check(c.CreateRoom(ctx, id, []string{"a", "b"}, &pb.Policy{Type: pb.PolicyType_POLICY_TYPE_BUCB, BucbZ: proto.Float64(2.5)}))(t)
	for _, seg := range []string{"", "s"} {
		check(c.Feedback(ctx, &pb.FeedbackEvent{RoomId: id, ArmId: "a", Segment: seg, Views: 10, Clicks: 1},
			&pb.FeedbackEvent{RoomId: id, ArmId: "b", Segment: seg, Views: 10, Clicks: 1}))(t)
	}

	// No mask: the fields set change, the rest stay.
	room := check(c.UpdateRoom(ctx, &pb.Room{RoomId: id, Policy: &pb.Policy{Type: pb.PolicyType_POLICY_TYPE_THOMPSON}}))(t)
	if room.GetPolicy().GetType() != pb.PolicyType_POLICY_TYPE_THOMPSON || room.GetPolicy().GetBucbZ() != 2.5 {
		t.Fatalf("UpdateRoom = %v", room.GetPolicy())
	}
	// A mask takes only the named fields.
	room = check(c.UpdateRoom(ctx, &pb.Room{RoomId: id,
		Policy: &pb.Policy{Type: pb.PolicyType_POLICY_TYPE_CTR, Epsilon: proto.Float64(0.3)},
		Decay:  &pb.Decay{HalfLifeEvents: 40}}, "policy.epsilon", "decay"))(t)
	if room.GetPolicy().GetType() != pb.PolicyType_POLICY_TYPE_THOMPSON || room.GetPolicy().GetEpsilon() != 0.3 ||
		room.GetDecay().GetHalfLifeEvents() != 40 {
		t.Fatalf("UpdateRoom with mask = %v", room)
	}
	if armViews(t, c, id, "", "a") != 20 {
		t.Fatal("UpdateRoom lost counters")
	}
	_, err := c.UpdateRoom(ctx, &pb.Room{RoomId: id}, "linucb")
	if !errors.Is(err, banditd.ErrInvalidArgument) || !strings.Contains(err.Error(), "update_mask.paths[0]") {
		t.Fatalf("immutable path: %v", err)
	}

	if err := c.ResetArmInSegment(ctx, id, "a", "s"); err != nil {
		t.Fatal(err)
	}
	if armViews(t, c, id, "s", "a") != 0 || armViews(t, c, id, "", "a") != 20 {
		t.Fatal("ResetArmInSegment touched the wrong tables")
	}
	if err := c.ResetArm(ctx, id, "a"); err != nil {
		t.Fatal(err)
	}
	if armViews(t, c, id, "", "a") != 0 || armViews(t, c, id, "", "b") != 20 {
		t.Fatal("ResetArm")
	}
	if err := c.ResetArm(ctx, id, "zz"); !errors.Is(err, banditd.ErrNotFound) {
		t.Fatalf("ResetArm unknown arm: %v", err)
	}
}
