package banditd_test

import (
	"context"
	"fmt"
	"log"

	"github.com/banditd/banditd/clients/go/banditd"
	pb "github.com/banditd/banditd/clients/go/banditdpb"
)

// A room with two button colours: sample one, report the view and click,
// and read the stats back.
func Example() {
	ctx := context.Background()
	addr := serverAddr // for example "localhost:50051"

	c, err := banditd.Dial(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.CreateRoom(ctx, "example-buttons", []string{"red", "green"},
		&pb.Policy{Type: pb.PolicyType_POLICY_TYPE_CTR}); err != nil {
		log.Fatal(err)
	}
	// Both arms are unseen (score +Inf); the seed makes the tie-break
	// reproducible.
	resp, err := c.Sample(ctx, &pb.SampleRequest{RoomId: "example-buttons", K: 2, Seed: new(uint64)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("candidates:", len(resp.GetArms()))

	_, err = c.Feedback(ctx,
		&pb.FeedbackEvent{RoomId: "example-buttons", ArmId: "red", Views: 100, Clicks: 5},
		&pb.FeedbackEvent{RoomId: "example-buttons", ArmId: "green", Views: 100, Clicks: 9},
	)
	if err != nil {
		log.Fatal(err)
	}
	best, err := c.SampleOne(ctx, "example-buttons")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("best:", best)

	stats, err := c.Stats(ctx, "example-buttons", "", false)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range stats.GetArms() {
		fmt.Printf("%s views=%.0f clicks=%.0f ctr=%.2f\n", a.GetArmId(), a.GetCounts().GetViews(), a.GetCounts().GetClicks(), a.GetCtr())
	}
	// Output:
	// candidates: 2
	// best: green
	// red views=100 clicks=5 ctr=0.05
	// green views=100 clicks=9 ctr=0.09
}

// Errors keep their gRPC status: use errors.Is with the sentinels, or
// status.Code.
func ExampleError() {
	c, err := banditd.Dial(serverAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = c.GetRoom(context.Background(), "no-such-room")
	fmt.Println(err)
	// Output:
	// GetRoom: NotFound: room_id: room "no-such-room" not found
}
