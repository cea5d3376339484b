package harness

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode"
)

// MarshalJSON writes test.json for people and scripts alike: snake_case
// keys throughout and durations as strings ("request_timeout": "1s"),
// whatever the Go field names; fields tagged "-" (secrets, writers) stay
// out.
func (r testRecord) MarshalJSON() ([]byte, error) {
	type plain testRecord // without this method
	m := settings(reflect.ValueOf(plain(r))).(map[string]any)
	return json.Marshal(m)
}

var durationType = reflect.TypeFor[time.Duration]()

// settings turns v into maps, slices and scalars for encoding/json, keyed
// as described at MarshalJSON. Embedded structs are flattened.
func settings(v reflect.Value) any {
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == reflect.TypeFor[time.Time]():
		return v.Interface()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, omit := f.Name, false
			if tag, ok := f.Tag.Lookup("json"); ok {
				n, opts, _ := strings.Cut(tag, ",")
				if n == "-" {
					continue
				}
				if n != "" {
					name = n
				}
				omit = strings.Contains(opts, "omitempty")
			} else {
				name = snake(name)
			}
			fv := v.Field(i)
			if omit && fv.IsZero() {
				continue
			}
			if f.Anonymous && fv.Kind() == reflect.Struct {
				for k, x := range settings(fv).(map[string]any) {
					out[k] = x
				}
				continue
			}
			out[name] = settings(fv)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = settings(v.Index(i))
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return settings(v.Elem())
	case reflect.Func, reflect.Chan:
		return nil
	}
	return v.Interface()
}

// snake converts a Go field name to snake_case: RequestTimeout →
// request_timeout, KVNodeBin → kv_node_bin, N → n.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
