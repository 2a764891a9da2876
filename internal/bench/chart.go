package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

var (
	colorConsumer = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	colorCeiling  = color.RGBA{0x99, 0x99, 0x99, 0xff}
	colorNaive    = color.RGBA{0xff, 0x7f, 0x0e, 0xff}
)

// drawChart draws the consumer's rate, the store ceiling and the naive consumer for each
// workload as horizontal bars, as a PNG.
func drawChart(w io.Writer, title string, bars []Bar) error {
	const (
		width, left, right = 960, 20, 230
		top, group, bar    = 60, 78, 16
	)
	height := top + group*len(bars) + 40
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text := func(x, y int, c color.Color, s string) {
		d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	var top1 float64
	for _, b := range bars {
		top1 = max(top1, b.Rate, b.Ceiling, b.NaiveRate)
	}
	if top1 == 0 {
		top1 = 1
	}
	scale := float64(width-left-right) / top1
	text(left, 20, color.Black, title)
	legend := left
	for _, l := range []struct {
		c    color.Color
		name string
	}{
		{colorConsumer, "consumer (events/s)"}, {colorCeiling, "store ceiling (writes/s)"},
		{colorNaive, "naive consumer (events/s)"},
	} {
		draw.Draw(img, image.Rect(legend, 32, legend+12, 44), image.NewUniform(l.c), image.Point{}, draw.Src)
		text(legend+16, 43, color.Black, l.name)
		legend += 16 + 7*len(l.name) + 24
	}
	for i, b := range bars {
		y := top + i*group
		text(left, y+10, color.Black, b.Label)
		for j, v := range []struct {
			c   color.Color
			val float64
		}{{colorConsumer, b.Rate}, {colorCeiling, b.Ceiling}, {colorNaive, b.NaiveRate}} {
			by := y + 16 + j*(bar+4)
			x1 := left + int(v.val*scale)
			rect := image.Rect(left, by, max(x1, left+1), by+bar)
			draw.Draw(img, rect, image.NewUniform(v.c), image.Point{}, draw.Src)
			label := num(v.val)
			if j == 0 && b.Ceiling > 0 {
				label += fmt.Sprintf(" (%.2fx ceiling)", b.Rate/b.Ceiling)
			}
			text(x1+6, by+12, color.Black, label)
		}
	}
	return png.Encode(w, img)
}
