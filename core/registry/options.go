package registry

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// DecodeOptions decodes a module's free-form options into target, which
// must be a pointer to a struct. It is strict, because a misspelt option
// silently falling back to its default is the kind of mistake that only
// shows up in production:
//
//   - an option key that matches no field is an error naming the key and
//     listing the known ones;
//   - field names come from `json` tags (else the Go field name) and match
//     ignoring case, '_' and '-', so `cache_size`, `cacheSize` and
//     `CACHE-SIZE` are one option (environment variables cannot spell
//     camelCase);
//   - strings convert to bools (true/false/yes/no/on/off/1/0), integers
//     (decimal or 0x hex), floats, time.Duration ("250ms"; a bare number is
//     refused because its unit would be a guess) and, split on commas, to
//     slices — that is what environment variables and zoo.cfg produce;
//   - a float converts to an integer only when it has no fraction (JSON
//     numbers arrive as float64).
//
// Empty options leave target untouched, so fields keep the defaults New set.
func DecodeOptions(options map[string]any, target any) error {
	if len(options) == 0 {
		return nil
	}
	rv := reflect.ValueOf(target)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%w: module takes no options (got %s)", ErrBadOptions, strings.Join(sortedKeys(options), ", "))
	}
	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: optionHook,
		Metadata:   &md,
		Result:     target,
		TagName:    "json",
		MatchName:  func(key, field string) bool { return normName(key) == normName(field) },
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	if err := dec.Decode(options); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	if len(md.Unused) > 0 {
		slices.Sort(md.Unused)
		return fmt.Errorf("%w: unknown option %s (known: %s)", ErrBadOptions,
			strings.Join(quoteAll(md.Unused), ", "), strings.Join(OptionNames(target), ", "))
	}
	return nil
}

// OptionNames lists the option names a struct (or pointer to one) accepts,
// as DecodeOptions spells them, for error messages and documentation.
func OptionNames(target any) []string {
	t := reflect.TypeOf(target)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func normName(s string) string {
	s = strings.ToLower(s)
	if strings.ContainsAny(s, "_-") {
		s = strings.NewReplacer("_", "", "-", "").Replace(s)
	}
	return s
}

var durationType = reflect.TypeFor[time.Duration]()

// optionHook converts loosely typed inputs (strings from env vars and
// zoo.cfg, float64 from JSON) to the field's type, strictly.
func optionHook(from, to reflect.Type, data any) (any, error) {
	if to == durationType {
		switch v := data.(type) {
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%q is not a duration (e.g. 250ms, 5s, 1m)", v)
			}
			return d, nil
		case time.Duration:
			return v, nil
		default:
			if from.Kind() >= reflect.Int && from.Kind() <= reflect.Float64 {
				return nil, fmt.Errorf("duration %v needs a unit (e.g. \"%vms\")", v, v)
			}
			return data, nil
		}
	}
	s, isString := data.(string)
	switch to.Kind() {
	case reflect.Bool:
		if isString {
			return parseBool(s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if isString {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 0, to.Bits())
			if err != nil {
				return nil, fmt.Errorf("%q is not a %d-bit integer", s, to.Bits())
			}
			return n, nil
		}
		if f, ok := asFloat(data); ok {
			return integral(f, data, to)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if isString {
			n, err := strconv.ParseUint(strings.TrimSpace(s), 0, to.Bits())
			if err != nil {
				return nil, fmt.Errorf("%q is not an unsigned %d-bit integer", s, to.Bits())
			}
			return n, nil
		}
		if f, ok := asFloat(data); ok {
			if f < 0 {
				return nil, fmt.Errorf("%v is negative", data)
			}
			return integral(f, data, to)
		}
	case reflect.Float32, reflect.Float64:
		if isString {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), to.Bits())
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", s)
			}
			return f, nil
		}
	case reflect.Slice:
		if isString && to.Elem().Kind() != reflect.Uint8 {
			var out []string
			for part := range strings.SplitSeq(s, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
			return out, nil
		}
	}
	return data, nil
}

func asFloat(v any) (float64, bool) {
	switch f := v.(type) {
	case float64:
		return f, true
	case float32:
		return float64(f), true
	}
	return 0, false
}

func integral(f float64, orig any, to reflect.Type) (any, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("%v is not a whole number", orig)
	}
	if f < -(1<<63) || f >= 1<<63 {
		return nil, fmt.Errorf("%v does not fit in %s", orig, to)
	}
	n := int64(f)
	z := reflect.Zero(to)
	if to.Kind() >= reflect.Uint && to.Kind() <= reflect.Uint64 {
		if n < 0 || z.OverflowUint(uint64(n)) {
			return nil, fmt.Errorf("%v does not fit in %s", orig, to)
		}
		return uint64(n), nil
	}
	if z.OverflowInt(n) {
		return nil, fmt.Errorf("%v does not fit in %s", orig, to)
	}
	return n, nil
}

var errNotBool = errors.New("not a boolean")

// parseBool accepts the spellings operators use in zoo.cfg and env vars.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q (use true/false, yes/no, on/off or 1/0)", errNotBool, s)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
