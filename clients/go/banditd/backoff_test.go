package banditd_test

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

var fastReconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, MaxDelay: 300 * time.Millisecond},
	MinConnectTimeout: time.Second,
}
