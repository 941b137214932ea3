package benchelection

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// palette colours the variants in order (colour-blind safe, Okabe–Ito).
var palette = []string{"#000000", "#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"}

// Panel geometry of the SVG, in pixels.
const (
	panelW, panelH = 340, 260
	marginL        = 50
	marginR        = 14
	marginT        = 28
	marginB        = 38
	legendH        = 30
	titleH         = 26
)

// WritePlot draws the empirical CDF of time to leader per variant, one
// panel per ensemble size (rows) and fault (columns), as a self-contained
// SVG.
func WritePlot(w io.Writer, r *Report) error {
	cols, rows := len(r.Faults), len(r.Nodes)
	width := cols * panelW
	height := titleH + legendH + rows*panelH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14" text-anchor="middle">Time to a stable leader after the fault (CDF, %d trials per cell, seed %d)</text>`+"\n",
		width/2, r.Trials, r.Seed)
	// Legend.
	x := 12
	for i, v := range r.Variants {
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"/>`, x, titleH+12, x+22, titleH+12, colour(i))
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+27, titleH+16, html.EscapeString(v))
		x += 40 + 7*len(v)
	}
	for ri, n := range r.Nodes {
		for ci, f := range r.Faults {
			panel(&b, r, n, f, ci*panelW, titleH+legendH+ri*panelH)
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func colour(i int) string { return palette[i%len(palette)] }

// panel draws one size × fault cell at (x0, y0).
func panel(b *strings.Builder, r *Report, nodes int, f Fault, x0, y0 int) {
	left, top := x0+marginL, y0+marginT
	pw, ph := panelW-marginL-marginR, panelH-marginT-marginB
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" text-anchor="middle">%d nodes, %s</text>`+"\n", left+pw/2, y0+18, nodes, f)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, top, pw, ph)
	lo, hi := math.Inf(1), 0.0
	for _, v := range r.Variants {
		if c := r.Cell(v, nodes, f); len(c.ttl) > 0 {
			lo, hi = min(lo, slices.Min(c.ttl)), max(hi, slices.Max(c.ttl))
		}
	}
	if hi == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#888">no elections</text>`+"\n", left+pw/2, top+ph/2)
		return
	}
	// A log axis: the variants differ by factors (tens of ms against
	// hundreds), and the tails reach seconds.
	lo = math.Max(lo, 1)
	xmin := math.Pow(10, math.Floor(math.Log10(lo)))
	xmax := math.Pow(10, math.Ceil(math.Log10(math.Max(hi, xmin*10))))
	px := func(v float64) float64 {
		v = math.Max(v, xmin)
		return float64(left) + math.Log10(v/xmin)/math.Log10(xmax/xmin)*float64(pw)
	}
	py := func(p float64) float64 { return float64(top+ph) - p*float64(ph) }
	lastLabel := math.Inf(-1)
	for dec := xmin; dec < xmax*1.5; dec *= 10 {
		for _, m := range []float64{1, 2, 5} {
			t := dec * m
			if t > xmax*1.01 {
				break
			}
			stroke := "#f2f2f2"
			if m == 1 {
				stroke = "#ddd"
			}
			fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`, px(t), top, px(t), top+ph, stroke)
			if px(t)-lastLabel < 26 {
				continue // too close to the previous label
			}
			lastLabel = px(t)
			label := fmt.Sprintf("%g", t)
			if t >= 1000 {
				label = fmt.Sprintf("%gs", t/1000)
			}
			fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(t), top+ph+14, label)
		}
	}
	for _, p := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`, left, py(p), left+pw, py(p))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-4, py(p)+4, p)
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#bbb" stroke-dasharray="3 3"/>`, left, py(0.9), left+pw, py(0.9))
	fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#888" font-size="9">p90</text>`+"\n", left+pw-3, py(0.9)+10)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">time to leader, ms (log scale)</text>`+"\n", left+pw/2, top+ph+30)
	for i, v := range r.Variants {
		c := r.Cell(v, nodes, f)
		if len(c.ttl) == 0 {
			continue
		}
		s := slices.Clone(c.ttl)
		slices.Sort(s)
		var d strings.Builder
		fmt.Fprintf(&d, "M%.1f %.1f", px(0), py(0))
		lastX := px(0)
		for k, t := range s {
			// Steps closer than half a pixel are drawn as one.
			if x := px(t); x-lastX >= 0.5 {
				fmt.Fprintf(&d, "H%.1f", x)
				lastX = x
			}
			if k == len(s)-1 || px(s[k+1])-lastX >= 0.5 {
				fmt.Fprintf(&d, "V%.1f", py(float64(k+1)/float64(len(s))))
			}
		}
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.8"/>`+"\n", d.String(), colour(i))
	}
}
