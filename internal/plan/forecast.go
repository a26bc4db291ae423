package plan

// forecast.go is the predictive policy's model of the request rate: a
// trend (the least-squares line through the rates of the last passes) and
// the same time of day on earlier days (the rate a horizon later, as a
// share of the rate now, in 5-minute slots). Both are simple enough to
// show in full in --explain; the policy scales for the larger of the rate
// now and the forecast, so a forecast can add capacity ahead of a rise but
// never removes any.

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

const (
	// SlotMinutes is the width of a time-of-day slot; a day has 288.
	SlotMinutes = 5
	slotsPerDay = 24 * 60 / SlotMinutes
	// maxRates bounds the recent rates kept for the trend.
	maxRates = 64
	// minTrendSamples is the least history a trend is drawn from.
	minTrendSamples = 3
)

// TrendWindow is how far back the trend looks for a horizon: twice the
// horizon, at least 1m and at most 30m.
func TrendWindow(horizon time.Duration) time.Duration {
	return min(max(2*horizon, time.Minute), 30*time.Minute)
}

// Forecast is a predictive policy's forecast of the request rate, with
// every input.
type Forecast struct {
	Horizon time.Duration `json:"horizon"`
	Now     float64       `json:"now"` // the rate now, requests per second
	// Trend: the slope of the least-squares line through Samples rates
	// over Span, in requests per second per second, and the line's value
	// at now + horizon. Nil when the history is too short.
	Slope        *float64      `json:"slope,omitempty"`
	TrendSamples int           `json:"trend_samples"`
	TrendSpan    time.Duration `json:"trend_span"`
	Trend        *float64      `json:"trend,omitempty"`
	// Daily: on earlier days, the rate at now + horizon as a share of the
	// rate now (by 5-minute slots of the day, over DailyDays days), and
	// the rate now scaled by it. Nil without both slots' history.
	DailyRatio *float64 `json:"daily_ratio,omitempty"`
	DailyDays  int      `json:"daily_days,omitempty"`
	Daily      *float64 `json:"daily,omitempty"`
	// Value is the forecast: the larger of Trend and Daily; nil when
	// neither exists.
	Value *float64 `json:"value,omitempty"`
	Note  string   `json:"note"`
}

// Predict forecasts the request rate horizon after now from the history in
// mem and the rate now. It does no I/O.
func Predict(mem state.Autoscale, rps float64, as *spec.Autoscale, now time.Time) Forecast {
	h := as.Predict.Horizon.D
	f := Forecast{Horizon: h, Now: rps}
	var notes []string

	// Trend: least squares over the window's rates and the rate now.
	window := TrendWindow(h)
	xs, ys := []float64{0}, []float64{rps}
	oldest := now
	for _, r := range mem.Rates {
		age := now.Sub(r.At)
		if age <= 0 || age > window || !finite(r.RPS) {
			continue // from the future (the clock went back), too old, or unusable
		}
		xs, ys = append(xs, -age.Seconds()), append(ys, r.RPS)
		if r.At.Before(oldest) {
			oldest = r.At
		}
	}
	f.TrendSamples, f.TrendSpan = len(xs), now.Sub(oldest)
	if len(xs) >= minTrendSamples && f.TrendSpan >= window/4 {
		slope, intercept := leastSquares(xs, ys)
		v := max(intercept+slope*h.Seconds(), 0)
		f.Slope, f.Trend = &slope, &v
		notes = append(notes, fmt.Sprintf("trend %+.2f rps/s over %s (%d passes) → %.0f at +%s", slope, f.TrendSpan.Round(time.Second), len(xs), v, h))
	} else {
		notes = append(notes, fmt.Sprintf("trend: too little history (%d passes over %s, want %d over %s)", len(xs), f.TrendSpan.Round(time.Second), minTrendSamples, window/4))
	}

	// The same time on earlier days.
	loc := location(as)
	today := now.In(loc).Format(time.DateOnly)
	at, ahead := slotValue(mem.Daily, now, loc, today), slotValue(mem.Daily, now.Add(h), loc, today)
	if at.ok && ahead.ok && at.v > 0 {
		ratio := ahead.v / at.v
		v := rps * ratio
		f.DailyRatio, f.Daily, f.DailyDays = &ratio, &v, min(at.days, ahead.days)
		notes = append(notes, fmt.Sprintf("same time on earlier days %.0f → %.0f (×%.2f) → %.0f", at.v, ahead.v, ratio, v))
	} else {
		notes = append(notes, "same time on earlier days: no history yet")
	}

	switch {
	case f.Trend != nil && f.Daily != nil:
		v, which := *f.Trend, "trend"
		if *f.Daily > v {
			v, which = *f.Daily, "earlier days"
		}
		f.Value = &v
		notes = append(notes, fmt.Sprintf("forecast %.0f (%s)", v, which))
	case f.Trend != nil:
		f.Value = f.Trend
		notes = append(notes, fmt.Sprintf("forecast %.0f (trend)", *f.Trend))
	case f.Daily != nil:
		f.Value = f.Daily
		notes = append(notes, fmt.Sprintf("forecast %.0f (earlier days)", *f.Daily))
	default:
		notes = append(notes, "no forecast")
	}
	f.Note = strings.Join(notes, "; ")
	return f
}

// leastSquares fits y = intercept + slope·x.
func leastSquares(xs, ys []float64) (slope, intercept float64) {
	n := float64(len(xs))
	var sx, sy float64
	for i := range xs {
		sx, sy = sx+xs[i], sy+ys[i]
	}
	mx, my := sx/n, sy/n
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0, my
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

type slotReading struct {
	v    float64
	days int
	ok   bool
}

// slotValue is the rate at t on earlier days: the past of t's slot,
// interpolated towards the neighbouring slot on t's side of its middle
// when that one has a past too.
func slotValue(daily []state.Slot, t time.Time, loc *time.Location, today string) slotReading {
	local := t.In(loc)
	minute := float64(local.Hour()*60+local.Minute()) + float64(local.Second())/60
	k := int(minute) / SlotMinutes
	here := pastOf(daily, k, today)
	if !here.ok {
		return here
	}
	offset := (minute - (float64(k)+0.5)*SlotMinutes) / SlotMinutes // -0.5 .. 0.5 from the middle
	nb := k + 1
	if offset < 0 {
		nb, offset = k-1, -offset
	}
	there := pastOf(daily, (nb+slotsPerDay)%slotsPerDay, today)
	if !there.ok {
		return here
	}
	return slotReading{v: here.v + (there.v-here.v)*offset, days: min(here.days, there.days), ok: true}
}

// pastOf is slot k's rate on days before today: Past, with the mean of a
// day not yet folded into it.
func pastOf(daily []state.Slot, k int, today string) slotReading {
	i := slotIndex(daily, k)
	if i < 0 {
		return slotReading{}
	}
	s := daily[i]
	if s.Day < today && s.N > 0 {
		s = roll(s)
	}
	return slotReading{v: s.Past, days: s.Days, ok: s.Days > 0}
}

func slotIndex(daily []state.Slot, k int) int {
	for i, s := range daily {
		if s.Slot == k {
			return i
		}
	}
	return -1
}

// roll folds a finished day's mean into the slot's past.
func roll(s state.Slot) state.Slot {
	if s.Days == 0 {
		s.Past = s.Mean
	} else {
		s.Past = (s.Past + s.Mean) / 2
	}
	s.Days = min(s.Days+1, 1000)
	s.Mean, s.N = 0, 0
	return s
}

// rememberRate adds the rate now to a predictive policy's history: the
// trend's rates (within the window, at most maxRates, none from the
// future) and the time-of-day slot of now. It may reuse mem's slices, as
// append does: use the memory it returns.
func rememberRate(mem state.Autoscale, rps float64, as *spec.Autoscale, now time.Time) state.Autoscale {
	window := TrendWindow(as.Predict.Horizon.D)
	rates := mem.Rates[:0]
	for _, r := range mem.Rates {
		if age := now.Sub(r.At); age > 0 && age <= window {
			rates = append(rates, r)
		}
	}
	rates = append(rates, state.Rate{At: now.UTC(), RPS: rps})
	if len(rates) > maxRates {
		rates = rates[len(rates)-maxRates:]
	}
	mem.Rates = rates

	local := now.In(location(as))
	today := local.Format(time.DateOnly)
	k := (local.Hour()*60 + local.Minute()) / SlotMinutes
	daily := mem.Daily
	if !cleanSlots(daily) {
		daily = make([]state.Slot, 0, len(mem.Daily)+1)
		var seen [slotsPerDay]bool
		for _, s := range mem.Daily {
			if s.Slot >= 0 && s.Slot < slotsPerDay && !seen[s.Slot] {
				seen[s.Slot] = true
				daily = append(daily, s) // a hand-edited state may hold anything
			}
		}
		sort.Slice(daily, func(a, b int) bool { return daily[a].Slot < daily[b].Slot })
	}
	i := sort.Search(len(daily), func(i int) bool { return daily[i].Slot >= k })
	if i == len(daily) || daily[i].Slot != k {
		daily = append(daily, state.Slot{})
		copy(daily[i+1:], daily[i:])
		daily[i] = state.Slot{Slot: k, Day: today}
	}
	s := &daily[i]
	switch {
	case s.Day < today && s.N > 0:
		*s = roll(*s)
	case s.Day > today: // the clock went back past midnight: that day's mean is not a past
		s.Mean, s.N = 0, 0
	}
	s.Day = today
	s.Mean += (rps - s.Mean) / float64(s.N+1)
	s.N++
	mem.Daily = daily
	return mem
}

// cleanSlots reports whether slots are in range and strictly increasing,
// as Remember leaves them.
func cleanSlots(daily []state.Slot) bool {
	for i, s := range daily {
		if s.Slot < 0 || s.Slot >= slotsPerDay || (i > 0 && s.Slot <= daily[i-1].Slot) {
			return false
		}
	}
	return true
}

func location(as *spec.Autoscale) *time.Location {
	loc, err := time.LoadLocation(as.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
