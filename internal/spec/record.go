package spec

// record.go writes down what an app's containers are made from, field by
// field, so a later pass can say what changed (a dry run's reason for a
// roll: "env.GREETING: hello → hi, resources.memory: 32m → 64m") instead of
// only that the spec hash differs. The record covers what the spec hash
// covers; it goes on each container as a label (fleet.LabelSpec). Values
// of environment variables whose names look secret are recorded as a
// digest, so they are neither in the label nor in a reason.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// secretName is an environment variable name whose value is not written
// down: only whether it changed.
var secretName = regexp.MustCompile(`(?i)(pass|secret|token|key|credential|auth|private)`)

// Record is the container-relevant part of the app's spec as flat fields
// ("image", "env.GREETING", "resources.memory", "ports", ...) with their
// values as a person writes them.
func (a *App) Record(network string) map[string]string {
	r := map[string]string{"image": a.Image}
	list := func(k string, v []string) {
		if len(v) > 0 {
			b, _ := json.Marshal(v)
			r[k] = string(b)
		}
	}
	list("command", a.Command)
	list("args", a.Args)
	for k, v := range a.Environment() {
		if secretName.MatchString(k) {
			sum := sha256.Sum256([]byte(v))
			v = "sha256:" + hex.EncodeToString(sum[:6])
		}
		r["env."+k] = v
	}
	if a.Port > 0 {
		r["port"] = strconv.Itoa(a.Port)
	}
	if m := a.Resources.Memory.Bytes; m > 0 {
		r["resources.memory"] = FormatSize(m)
	}
	if c := a.Resources.CPU.Milli; c > 0 {
		r["resources.cpu"] = FormatCPU(c)
	}
	if m := a.Resources.ReserveMemory.Bytes; m > 0 {
		r["resources.reserve_memory"] = FormatSize(m)
	}
	for k, v := range a.Labels {
		r["labels."+k] = v
	}
	if network != "" {
		r["docker.network"] = network
	}
	if st := a.stackPart(); st != nil {
		list("volumes", st.Mounts)
		list("tmpfs", st.Tmpfs)
		list("ports", st.Ports)
		list("networks", st.Networks)
		if st.Log != "" {
			r["logging"] = st.Log
		}
		for k, v := range map[string]string{"user": st.User, "working_dir": st.WorkingDir, "stop_signal": st.StopSignal, "restart": st.Restart} {
			if v != "" {
				r[k] = v
			}
		}
		if st.ReadOnly {
			r["read_only"] = "true"
		}
		list("cap_add", st.CapAdd)
		list("cap_drop", st.CapDrop)
		list("extra_hosts", st.ExtraHosts)
	}
	return r
}

// RecordLabel is Record as the label value: JSON with sorted keys.
func (a *App) RecordLabel(network string) string {
	b, _ := json.Marshal(a.Record(network))
	return string(b)
}

// ParseRecord reads a record label; ok is false for a label that is not
// one (missing, or not written by this baton).
func ParseRecord(label string) (map[string]string, bool) {
	if label == "" {
		return nil, false
	}
	var r map[string]string
	if err := json.Unmarshal([]byte(label), &r); err != nil || r == nil {
		return nil, false
	}
	return r, true
}

// maxChanges is how many changed fields a reason names before "and N
// more"; maxValue cuts a long value.
const (
	maxChanges = 6
	maxValue   = 40
)

// RecordDiff says what changed from old to new, field by field (the image
// first, then by name):
// "env.GREETING: hello → hi", "+labels.team: web", "-env.DEBUG (was 1)";
// a secret's value is never shown. Empty when nothing differs.
func RecordDiff(old, new map[string]string) string {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool {
		// The image first: it is what a roll is usually about.
		if (sorted[i] == "image") != (sorted[j] == "image") {
			return sorted[i] == "image"
		}
		return sorted[i] < sorted[j]
	})
	var out []string
	for _, k := range sorted {
		o, hadOld := old[k]
		n, hasNew := new[k]
		if hadOld && hasNew && o == n {
			continue
		}
		secret := strings.HasPrefix(k, "env.") && secretName.MatchString(k)
		switch {
		case secret && hadOld && hasNew:
			out = append(out, k+": changed (value hidden)")
		case secret && hasNew:
			out = append(out, "+"+k+" (value hidden)")
		case secret:
			out = append(out, "-"+k)
		case k == "image" && hadOld && hasNew:
			out = append(out, fmt.Sprintf("image %s → %s", o, n))
		case hadOld && hasNew:
			out = append(out, fmt.Sprintf("%s: %s → %s", k, cut(o), cut(n)))
		case hasNew:
			out = append(out, fmt.Sprintf("+%s: %s", k, cut(n)))
		default:
			out = append(out, fmt.Sprintf("-%s (was %s)", k, cut(o)))
		}
	}
	if len(out) > maxChanges {
		out = append(out[:maxChanges], fmt.Sprintf("and %d more", len(out)-maxChanges))
	}
	return strings.Join(out, ", ")
}

func cut(v string) string {
	if v == "" {
		return `""`
	}
	if r := []rune(v); len(r) > maxValue {
		return string(r[:maxValue-1]) + "…"
	}
	return v
}

// FormatSize writes bytes as the spec's units: 64m, 1g, 512k, or bytes.
func FormatSize(b int64) string {
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if b >= u.m && b%u.m == 0 {
			return strconv.FormatInt(b/u.m, 10) + u.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}

// FormatCPU writes millicores as the spec does: 500m, or whole cores.
func FormatCPU(milli int64) string {
	if milli%1000 == 0 {
		return strconv.FormatInt(milli/1000, 10)
	}
	return strconv.FormatInt(milli, 10) + "m"
}
