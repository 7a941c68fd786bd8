// cold_start_client SOCKET: one new Go workload process asking the agent for its first X509-SVID,
// as a go-spiffe workload does (grpc-go over the Unix socket, the security header, the
// FetchX509SVID stream). Built at bench time in GOPATH mode against Debian's Go packages by
// scripts/lib/go-build.ts, with stubs generated into sigilbench/workloadpb. The clock starts just
// before grpc.Dial (a blocking dial: the connection is up when it returns) and stops when the
// first FetchX509SVID message arrives. Prints one JSON line {ms, connect_ms, svids} (or {error})
// and exits. Trust: none; a benchmark probe, it checks only that an SVID came back.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "sigilbench/workloadpb"
)

func report(o map[string]interface{}) {
	out, _ := json.Marshal(o)
	fmt.Println(string(out))
}

func ms(d time.Duration) float64 {
	return float64(d.Nanoseconds()) / 1e6
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cold_start_client SOCKET")
		os.Exit(2)
	}
	socket := os.Args[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	conn, err := grpc.DialContext(ctx, "unix:"+socket, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		report(map[string]interface{}{"error": "connect: " + err.Error()})
		return
	}
	connected := time.Now()
	defer conn.Close()
	client := pb.NewSpiffeWorkloadAPIClient(conn)
	stream, err := client.FetchX509SVID(metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "true"), &pb.X509SVIDRequest{})
	if err != nil {
		report(map[string]interface{}{"error": "FetchX509SVID: " + err.Error()})
		return
	}
	msg, err := stream.Recv()
	t1 := time.Now()
	if err != nil {
		report(map[string]interface{}{"error": "FetchX509SVID: " + err.Error()})
		return
	}
	report(map[string]interface{}{"ms": ms(t1.Sub(t0)), "connect_ms": ms(connected.Sub(t0)), "svids": len(msg.Svids)})
}
