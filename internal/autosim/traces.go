package main

// traces.go holds the built-in load traces: one sample per second, each
// from its own fixed seed, so every run replays the same requests.

import (
	"bufio"
	"math"
	"math/rand"
	"os"
	"strconv"
	"strings"
)

type point struct {
	at  int // seconds
	rps float64
}

type trace struct {
	name string
	what string
	pts  []point
}

// gen makes n seconds of f, never below zero, from seed.
func gen(n int, seed int64, f func(s int, r *rand.Rand) float64) []point {
	r := rand.New(rand.NewSource(seed))
	out := make([]point, n)
	for s := range out {
		out[s] = point{s, math.Max(0, f(s, r))}
	}
	return out
}

// poisson approximates the per-second count of requests arriving at rate
// (a normal with the Poisson's variance; rates here are tens or more).
func poisson(rate float64, r *rand.Rand) float64 {
	return rate + math.Sqrt(math.Max(rate, 0))*r.NormFloat64()
}

// webHour is the shape of a web service's day, as a share of its evening
// peak, hour by hour from midnight (local time): a night trough near 04:00,
// a morning climb from 06:00, a working-day plateau, the peak at 20:00.
var webHour = [24]float64{0.45, 0.32, 0.24, 0.19, 0.17, 0.20, 0.30, 0.48, 0.66, 0.78, 0.85, 0.88,
	0.86, 0.87, 0.88, 0.86, 0.84, 0.83, 0.85, 0.92, 1.00, 0.97, 0.82, 0.62}

// webDays is three days of a web service peaking near 1,500 rps: the daily
// shape (interpolated smoothly between the hours), days a few percent
// apart, a slow random drift of a few percent (minute to minute) and
// Poisson noise per second.
func webDays() []point {
	const day, peak = 86400, 1500.0
	dayScale := []float64{1.0, 1.04, 0.97}
	drift := 0.0
	return gen(3*day, 7, func(s int, r *rand.Rand) float64 {
		if s%60 == 0 {
			drift = 0.9*drift + 0.01*r.NormFloat64() // AR(1): about ±2.3%
		}
		h := float64(s%day) / 3600
		i := int(h)
		frac := h - float64(i)
		w := (1 - math.Cos(math.Pi*frac)) / 2 // smooth between the hours
		shape := webHour[i]*(1-w) + webHour[(i+1)%24]*w
		return poisson(peak*dayScale[s/day]*shape*(1+drift), r)
	})
}

// flashCrowd is two hours of a quiet service (150 rps) that a popular link
// sends a crowd to at 30 minutes: the rate climbs to about 2,750 rps over
// about two minutes (a logistic rise), holds five minutes, then decays
// with a 20-minute time constant; Poisson noise per second.
func flashCrowd() []point {
	const base, extra, at = 150.0, 2600.0, 1800
	return gen(7200, 11, func(s int, r *rand.Rand) float64 {
		t := float64(s - at)
		rise := 1 / (1 + math.Exp(-t/20)) // 10% to 90% in about 90 s
		decay := 1.0
		if t > 420 {
			decay = math.Exp(-(t - 420) / 1200)
		}
		return poisson(base+extra*rise*decay, r)
	})
}

// traces are the built-in traces, in the order the table shows them.
func traces() []trace {
	return []trace{
		{"spike", "1 h: 300 rps, 2,000 from 15 to 25 min", gen(3600, 1, func(s int, r *rand.Rand) float64 {
			if s >= 900 && s < 1500 {
				return 2000 + 100*r.NormFloat64()
			}
			return 300 + 30*r.NormFloat64()
		})},
		{"diurnal", "1 h: a sine of 900 ± 700 rps", gen(3600, 1, func(s int, r *rand.Rand) float64 {
			return 900 + 700*math.Sin(2*math.Pi*float64(s)/3600) + 40*r.NormFloat64()
		})},
		{"noisy-constant", "1 h: 1,000 rps ± 8%", gen(3600, 1, func(s int, r *rand.Rand) float64 {
			return 1000 * (1 + 0.08*r.NormFloat64())
		})},
		{"sawtooth", "1 h: 200 → 2,000 rps every 10 min", gen(3600, 1, func(s int, r *rand.Rand) float64 {
			return 200 + float64(s%600)*3
		})},
		{"web-days", "3 days of a web service's daily shape, 250 → 1,500 rps", webDays()},
		{"flash-crowd", "2 h: 150 rps, then a crowd of 2,750 rps at 30 min, decaying", flashCrowd()},
	}
}

func readTrace(path string) ([]point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []point
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(parts) != 2 {
			continue
		}
		at, err1 := strconv.Atoi(parts[0])
		rps, err2 := strconv.ParseFloat(parts[1], 64)
		if err1 == nil && err2 == nil {
			out = append(out, point{at, rps})
		}
	}
	return out, sc.Err()
}
