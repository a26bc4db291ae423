package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a Go duration string ("2s", "500ms", "1m30s"). Set records
// that the field was written, so an explicit "0s" is kept.
type Duration struct {
	D   time.Duration
	Set bool
}

func (d *Duration) parseScalar(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. 500ms, 2s, 1m)", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", s)
	}
	d.D, d.Set = v, true
	return nil
}

// Size is a byte count written like Docker's --memory: 512m, 1g, 64k,
// 1048576 (plain bytes). Suffixes are binary (m = MiB).
type Size struct{ Bytes int64 }

func (z *Size) parseScalar(s string) error {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"gi", 1 << 30}, {"mi", 1 << 20}, {"ki", 1 << 10}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return fmt.Errorf("invalid size %q (use e.g. 64m, 512m, 1g)", s)
	}
	z.Bytes = n * mult
	return nil
}

// MilliCPU is CPU in thousandths of a core: "500m" is half a core, "2" or
// "1.5" are whole cores, as in the Orchestry seed and Kubernetes.
type MilliCPU struct{ Milli int64 }

func (c *MilliCPU) parseScalar(s string) error {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "m") {
		n, err := strconv.ParseInt(strings.TrimSuffix(t, "m"), 10, 64)
		if err != nil || n <= 0 || n > 1<<20 {
			return fmt.Errorf("invalid cpu %q (use e.g. 250m, 0.5, 2)", s)
		}
		c.Milli = n
		return nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > 1024 {
		return fmt.Errorf("invalid cpu %q (use e.g. 250m, 0.5, 2)", s)
	}
	c.Milli = int64(f*1000 + 0.5)
	if c.Milli < 1 {
		// Rounded to 0 it would mean no limit at all.
		return fmt.Errorf("invalid cpu %q: below 1m, the smallest limit (0.001)", s)
	}
	return nil
}

// Percent is a fraction written as "70%" or "70".
type Percent struct{ Fraction float64 }

func (p *Percent) parseScalar(s string) error {
	t := strings.TrimSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > 1000 {
		return fmt.Errorf("invalid percentage %q (use e.g. 70%%)", s)
	}
	p.Fraction = f / 100
	return nil
}
