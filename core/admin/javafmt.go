package admin

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Four-letter-word output is consumed by scripts written against Java's
// toString conventions, so numbers and dates are printed the way the JVM
// prints them rather than the way Go does.

// javaDouble formats f like Java's Double.toString: plain decimal with at
// least one fractional digit for 1e-3 <= |f| < 1e7, "computerized"
// scientific notation (1.0E7) otherwise.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsRune(s, '.') {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // e.g. 1.2345E+07, 1E-05
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.ContainsRune(mant, '.') {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// roundHalfUp4 rounds the exact binary value of x to four decimal places,
// half away from zero, as ZooKeeper's AvgMinMaxCounter does with
// BigDecimal.setScale(4, HALF_UP).
func roundHalfUp4(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	neg := x < 0
	v := new(big.Float).SetPrec(256).SetFloat64(math.Abs(x))
	v.Mul(v, big.NewFloat(10000))
	v.Add(v, big.NewFloat(0.5))
	n, _ := v.Int(nil) // truncation of a non-negative value is floor
	s := n.String()
	for len(s) < 5 {
		s = "0" + s
	}
	s = s[:len(s)-4] + "." + s[len(s)-4:]
	r, _ := strconv.ParseFloat(s, 64)
	if neg {
		r = -r
	}
	return r
}

// javaDate formats t like java.util.Date.toString:
// "Mon Nov 23 04:50:26 UTC 2026".
func javaDate(t time.Time) string {
	return t.Format("Mon Jan 02 15:04:05 MST 2006")
}

// hex is Java's Long.toHexString: two's complement, lower case, no padding.
func hex(v int64) string {
	return strconv.FormatUint(uint64(v), 16)
}

// formatValue renders a mntr/envi value the way ZooKeeper's MonitorCommand
// does: integers in decimal, other numbers as Java doubles, anything else
// via its string form.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float32:
		return javaDouble(float64(x))
	case float64:
		return javaDouble(x)
	case time.Duration:
		return strconv.FormatInt(x.Milliseconds(), 10)
	case interface{ String() string }:
		return x.String()
	default:
		return "?"
	}
}

// unixMilli is t in Unix milliseconds, 0 for the zero time (a node that
// does not track a timestamp should not print year 1).
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
