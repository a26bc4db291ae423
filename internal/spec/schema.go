package spec

// schema.go generates the spec's JSON Schema (draft 2020-12) from the Go
// types, as strict as JSON Schema can say what validate enforces: types,
// enums, the alphabets of names, paths and addresses, ranges, required
// fields, reserved names, and the cross-field rules a schema can express
// (an lb needs the nginx section; lb.tls needs nginx.listen_tls; a fixed
// host port means stop-first and one replica; ...). What a schema cannot
// say (unique names across apps, two apps on one host port, a writer
// conflict on a volume) is validate's alone; docs/spec.md lists the
// fixtures beyond it, and TestSchemaAgreesWithValidate checks both ways.
// Every property is described by its doc comment (schema_doc.go).

import (
	"encoding/json"
	"reflect"
	"strings"
)

// enums are the closed value sets, by field path in the schema.
var enums = map[string][]string{
	"App.pull":      pulls,
	"App.engine":    {"docker", "swarm"},
	"LB.method":     methods,
	"Nginx.kind":    {KindNginx, KindHAProxy},
	"Health.type":   probes,
	"Hook.format":   {"json", "slack"},
	"GC.scope":      gcScopes,
	"GC.volumes":    {"anonymous", "all", "none"},
	"Hook.events[]": EventTypes,
	// stack.go
	"Update.order":         orders,
	"Dependency.condition": conditions,
	// swarm.go
	"SwarmNode.role":         nodeRoles,
	"SwarmNode.availability": nodeAvailabilities,
	"Rebalance.usage":        {"reservations", "docker"},
	"Schedule.days[]":        weekday,
}

// The alphabets a schema writes out (RE2 and ECMA-262 alike: no
// lookaround, no inline flags).
const (
	ipv4Pattern   = `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}`
	portPattern   = `0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])`
	listenPattern = `^(` + ipv4Pattern + `|\[[0-9A-Fa-f:.]+\]):` + portPattern + `$`
	ipPattern     = `^(` + ipv4Pattern + `|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$`
	noNUL         = "^[^\x00]*$"
	noNULLine     = "^[^\x00\n]*$"
	httpURL       = `^https?://[^/?#\s]`
)

// patterns are the checked alphabets, by field path.
var patterns = map[string]string{
	"Spec.project":       nameRe.String(),
	"App.name":           nameRe.String(),
	"App.image":          imageRe.String(),
	"LB.path":            urlPathRe.String(),
	"Health.path":        urlPathRe.String(),
	"Nginx.listen":       listenPattern,
	"Nginx.listen_tls":   orEmpty(listenPattern),
	"Nginx.config":       "^[^\x00\n\r]*[^/\x00\n\r]$",
	"Nginx.template":     "^[^\x00\n\r]*$",
	"Docker.publish_ip":  orEmpty(ipPattern),
	"Docker.network":     orEmpty(netNameRe.String()),
	"ModFile.url":        httpURL,
	"ModFile.sha256":     sha256Re.String(),
	"Hook.url":           httpURL,
	"SwarmNode.docker":   `^$|^(unix|tcp)://`,
	"Anchor.service":     serviceRe.String(),
	"Anchor.anchor":      serviceRe.String(),
	"Schedule.from":      clockRe.String(),
	"Schedule.to":        clockRe.String(),
	"App.command[]":      noNUL,
	"App.args[]":         noNUL,
	"App.ports[]":        `^(` + ipv4Pattern + `:|\[[0-9A-Fa-f:.]+\]:)?[0-9]{1,5}:[0-9]{1,5}(/(tcp|udp))?$`,
	"App.restart_with[]": nameRe.String(),
	"GC.exclude[]":       `^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}(=.*)?$`,
	// stack.go
	"App.user":        userRe.String(),
	"App.stop_signal": signalRe.String(),
	"App.restart":     `^(no|always|unless-stopped|on-failure(:[0-9]+)?)$`,
	"Volume.name":     resourceRe.String(),
	"Network.name":    netNameRe.String(),
}

// rules are more keywords of a field's schema, by field path.
var rules = map[string]map[string]any{
	"App.replicas":                 {"minimum": 0, "maximum": maxReplicas},
	"App.port":                     {"minimum": 0, "maximum": 65535},
	"App.env":                      {"propertyNames": envNames, "additionalProperties": map[string]any{"type": "string", "pattern": noNUL}},
	"App.labels":                   {"propertyNames": labelNames, "additionalProperties": map[string]any{"type": "string", "pattern": noNULLine}},
	"Volume.labels":                {"propertyNames": labelNames},
	"SwarmNode.labels":             {"propertyNames": labelNames, "additionalProperties": map[string]any{"type": "string", "pattern": noNULLine}},
	"App.volumes":                  {"items": volumeItem},
	"Health.path":                  {"not": map[string]any{"pattern": `\.\.`}},
	"Health.statuses":              {"items": withRange(intSchema(), 100, 599)},
	"Health.headers":               {"propertyNames": map[string]any{"pattern": headerRe.String()}, "additionalProperties": map[string]any{"type": "string", "pattern": "^[^\x00\r\n]*$"}},
	"Health.failure_threshold":     {"minimum": 0, "maximum": 100},
	"Health.success_threshold":     {"minimum": 0, "maximum": 100},
	"Health.crashloop_attempts":    {"minimum": 0, "maximum": 1000},
	"Health.leave_after":           {"minimum": 0, "maximum": 100},
	"LB.path":                      {"allOf": []any{map[string]any{"not": map[string]any{"pattern": `\.\.`}}, map[string]any{"not": map[string]any{"pattern": `//`}}}},
	"LB.keepalive":                 {"minimum": 0, "maximum": 4096},
	"LB.retries":                   {"minimum": 0, "maximum": 10},
	"LB.max_fails":                 {"minimum": 0, "maximum": 100},
	"Nginx.test":                   {"minItems": 1, "items": argItem},
	"Nginx.reload":                 {"minItems": 1, "items": argItem},
	"Hook.command":                 {"minItems": 1, "items": argItem},
	"External.command":             {"minItems": 1, "items": argItem},
	"GC.keep_images":               {"minimum": 0, "maximum": 1000},
	"Mods.parallel":                {"minimum": 0, "maximum": 64},
	"Mods.retries":                 {"minimum": 0, "maximum": 10},
	"ModFile.dest":                 destRules,
	"Autoscale.min":                {"minimum": 0, "maximum": maxReplicas},
	"Autoscale.max":                {"minimum": 1, "maximum": maxReplicas},
	"Autoscale.tolerance":          {"minimum": 0, "exclusiveMaximum": 1},
	"RateLimit.max_step":           {"minimum": 0},
	"RateLimit.max_percent":        {"minimum": 0, "maximum": 1000},
	"Targets.rps":                  {"minimum": 0},
	"Targets.inflight":             {"minimum": 0},
	"Schedule.min":                 {"minimum": 0, "maximum": maxReplicas},
	"Rebalance.max_moves":          {"minimum": 0},
	"Rebalance.max_moves_per_node": {"minimum": 0},
	"Swarm.nodes":                  {"propertyNames": map[string]any{"pattern": `^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`}},
}

var (
	argItem    = map[string]any{"type": "string", "minLength": 1, "pattern": noNUL}
	envNames   = map[string]any{"pattern": envKeyRe.String(), "not": map[string]any{"pattern": "^BATON_"}}
	labelNames = map[string]any{"pattern": labelRe.String(), "not": map[string]any{"pattern": `^baton\.`}}
	// volumeItem: no ~ (not expanded) and no relative source that starts
	// by leaving the spec's directory.
	volumeItem = map[string]any{"type": "string", "pattern": "^[^\x00\n,]+$",
		"not": map[string]any{"pattern": `^(~|\.\.(/|:|$))`}}
	// destRules keep a mods destination inside the cache: relative,
	// clean, no . or .. part, no baton temporary name (CheckDest).
	destRules = map[string]any{"minLength": 1, "pattern": "^[^/\x00\n\\\\]", "allOf": []any{
		map[string]any{"not": map[string]any{"pattern": `(^|/)\.\.?(/|$)`}},
		map[string]any{"not": map[string]any{"pattern": `//|/$`}},
		map[string]any{"not": map[string]any{"pattern": `(^|/)\.baton-`}},
		map[string]any{"not": map[string]any{"pattern": "[\x00\n\\\\]"}},
	}}
)

// required are the fields a type must have.
var required = map[string][]string{
	"App":       {"name", "image"},
	"Nginx":     {"config", "test", "reload", "listen"},
	"ModFile":   {"url", "dest"},
	"Anchor":    {"service", "anchor"},
	"Schedule":  {"from", "to"},
	"External":  {"command"},
	"Autoscale": {"max"},
}

// typeRules are the cross-field rules a schema can state, by type.
var typeRules = map[string]map[string]any{
	"Spec": {"allOf": []any{
		// An lb section needs the nginx section.
		ifThen(props("apps", contains(req("lb"))), req("nginx")),
		// lb.tls needs nginx.listen_tls.
		ifThen(props("apps", contains(props("lb", req("tls")), "lb")), props("nginx", req("listen_tls"))),
	}},
	"App": {"allOf": []any{
		// A fixed host port: one container at a time, stop-first.
		ifThen(props("ports", map[string]any{"minItems": 1}, "ports"), merge(
			props("update", props("order", map[string]any{"const": StopFirst}, "order"), "update"),
			props("replicas", map[string]any{"maximum": 1}),
			props("autoscale", props("max", map[string]any{"maximum": 1})))),
	}},
	"Nginx": {"allOf": []any{
		// HAProxy logs through syslog: no access log.
		ifThen(props("kind", map[string]any{"const": KindHAProxy}, "kind"), map[string]any{"not": req("access_log")}),
	}},
	"LB": {"allOf": []any{
		// default needs a host.
		ifThen(props("default", map[string]any{"const": true}, "default"),
			props("host", map[string]any{"minItems": 1}, "host")),
	}},
	"Hook": {"oneOf": []any{req("url"), req("command")}},
	"Mods": {"allOf": []any{ifThen(props("files", map[string]any{"minItems": 1}, "files"), req("dir"))}},
	"Autoscale": {"allOf": []any{
		// The forecast is of the request rate.
		ifThen(req("predict"), props("targets", props("rps", map[string]any{"exclusiveMinimum": 0}, "rps"), "targets")),
	}},
}

// orEmpty also accepts "", which validate takes as "not set".
func orEmpty(p string) string { return "^$|" + p }

func req(fields ...string) map[string]any { return map[string]any{"required": fields} }

// props is {"properties": {field: sub}}, with field required when asked.
func props(field string, sub map[string]any, requires ...string) map[string]any {
	m := map[string]any{"properties": map[string]any{field: sub}}
	if len(requires) > 0 {
		m["required"] = requires
	}
	return m
}

func contains(sub map[string]any, requires ...string) map[string]any {
	if len(requires) > 0 {
		sub = merge(sub, req(requires...))
	}
	return map[string]any{"contains": sub}
}

func ifThen(cond, then map[string]any) map[string]any {
	return map[string]any{"if": cond, "then": then}
}

// merge combines schemas that must all hold.
func merge(ms ...map[string]any) map[string]any {
	all := make([]any, len(ms))
	for i, m := range ms {
		all[i] = m
	}
	return map[string]any{"allOf": all}
}

const (
	durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	sizePattern     = `^[0-9]+([kKmMgG][iI]?[bB]?|[bB])?$`
	cpuPattern      = `^([0-9]+m|[0-9]+(\.[0-9]+)?)$`
)

// Schema returns a JSON Schema (draft 2020-12) for the spec, generated from
// the Go types, so editors can complete, describe and check a spec (see
// the file comment for how strict it is).
func Schema() ([]byte, error) {
	root := schemaOf(reflect.TypeOf(Spec{}), "Spec")
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["title"] = "baton spec"
	root["description"] = "A baton spec: the apps baton runs from cron, the balancer in front of them, and what its passes keep true (docs/spec.md). Generated by `baton validate --schema`; `baton validate` checks what a schema cannot."
	return json.MarshalIndent(root, "", "  ")
}

func schemaOf(t reflect.Type, name string) map[string]any {
	switch t {
	case reflect.TypeOf(Duration{}):
		return map[string]any{"type": "string", "pattern": durationPattern}
	case reflect.TypeOf(Size{}):
		return map[string]any{"type": []string{"string", "integer"}, "pattern": sizePattern, "minimum": 0}
	case reflect.TypeOf(Percent{}):
		return map[string]any{"type": []string{"string", "number"}, "pattern": `^[0-9]+(\.[0-9]+)?%?$`, "exclusiveMinimum": 0, "maximum": 1000}
	case reflect.TypeOf(Panic{}):
		return map[string]any{"oneOf": []any{map[string]any{"const": "off"}, map[string]any{"const": 0},
			map[string]any{"type": "string", "pattern": `^[0-9]{1,2}(\.[0-9]+)?%$`}}}
	case reflect.TypeOf(Hosts{}):
		host := map[string]any{"type": "string", "pattern": hostRe.String(), "maxLength": 253}
		return map[string]any{"oneOf": []any{host, map[string]any{"type": "array", "items": host}}}
	case reflect.TypeOf(MilliCPU{}):
		return map[string]any{"type": []string{"string", "number"}, "pattern": cpuPattern, "exclusiveMinimum": 0, "maximum": 1024}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem(), name)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return intSchema()
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		items := schemaOf(t.Elem(), name+"[]")
		if p, ok := patterns[name+"[]"]; ok {
			items["pattern"] = p
		}
		if e, ok := enums[name+"[]"]; ok {
			items["enum"] = e
		}
		return map[string]any{"type": "array", "items": items}
	case reflect.Map:
		elem := schemaOf(t.Elem(), name+"{}")
		if t.Elem().Kind() == reflect.Pointer {
			// compose style: "pgdata:" with no value is an empty entry.
			elem = map[string]any{"anyOf": []any{elem, map[string]any{"type": "null"}}}
		}
		return map[string]any{"type": "object", "additionalProperties": elem}
	case reflect.Struct:
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "" || tag == "-" {
				continue
			}
			key := t.Name() + "." + tag
			fs := schemaOf(f.Type, key)
			if e, ok := enums[key]; ok {
				fs["enum"] = e
			}
			if p, ok := patterns[key]; ok {
				fs["pattern"] = p
			}
			for k, v := range rules[key] {
				if k == "items" {
					if items, ok := fs["items"].(map[string]any); ok {
						for ik, iv := range v.(map[string]any) {
							items[ik] = iv
						}
						continue
					}
				}
				fs[k] = v
			}
			if d := fieldDocs[key]; d != "" {
				fs["description"] = d
			}
			props[tag] = fs
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if r, ok := required[t.Name()]; ok {
			s["required"] = r
		}
		for k, v := range typeRules[t.Name()] {
			s[k] = v
		}
		return s
	}
	return map[string]any{"description": "unsupported: " + strings.ToLower(t.Kind().String())}
}

// intSchema is a whole number as validate reads one: a YAML integer, or a
// string of digits (replicas: "3"), so the schema never refuses what
// validate accepts; ranges bind the numbers, and validate the strings.
func intSchema() map[string]any {
	return map[string]any{"type": []string{"integer", "string"}, "pattern": `^[+-]?[0-9]+$`}
}

func withRange(m map[string]any, lo, hi int) map[string]any {
	m["minimum"], m["maximum"] = lo, hi
	return m
}
