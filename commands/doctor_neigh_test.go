package commands

import (
	"fmt"
	"strings"
	"testing"
)

func TestNeighbourCheck(t *testing.T) {
	for _, tc := range []struct {
		replicas, soft, hard int
		result               string
	}{
		{100, 512, 1024, "ok"},
		{511, 512, 1024, "ok"},
		{512, 512, 1024, "warn"},
		{1000, 512, 1024, "warn"},
		{1024, 512, 1024, "fail"},
		{1000, 4096, 8192, "ok"},
		{600, 512, 8192, "warn"},
	} {
		c := neighCheck(tc.replicas, tc.soft, tc.hard)
		if c.Result != tc.result {
			t.Errorf("%d replicas, limits %d/%d: %s, want %s (%s)", tc.replicas, tc.soft, tc.hard, c.Result, tc.result, c.Detail)
		}
		if tc.result != "ok" && !strings.Contains(c.Hint, "gc_thresh3=") {
			t.Errorf("no sysctl hint: %q", c.Hint)
		}
		if tc.hard > 4*tc.replicas && !strings.Contains(c.Hint, fmt.Sprintf("gc_thresh3=%d ", tc.hard)) && tc.result != "ok" {
			t.Errorf("the hint lowers gc_thresh3 %d: %q", tc.hard, c.Hint)
		}
	}
}
