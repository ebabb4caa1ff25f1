//! Bar charts drawn on the server as SVG: they work without JavaScript and
//! under the console's strict content security policy (colours come from
//! classes in the stylesheet, never from inline styles). The bars stretch
//! to the page's width; the labels are HTML around them, so they stay
//! readable on a phone.

use std::fmt::Write;

use crate::web::format::amount;

/// One kind of value in a chart, with the stylesheet class that colours it.
pub struct Series {
    pub name: &'static str,
    pub class: &'static str,
}

/// The values of one bucket (one per series), and what it is called in
/// its tooltip ("14:00", "run 812").
pub struct Bucket {
    pub label: String,
    pub values: Vec<f64>,
}

pub struct BarChart {
    pub title: String,
    /// How a value is written: "records", "s".
    pub unit: &'static str,
    pub series: Vec<Series>,
    pub buckets: Vec<Bucket>,
    /// Under the first and the last bucket.
    pub from_label: String,
    pub to_label: String,
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

impl BarChart {
    /// The chart as an HTML figure: title, legend, the largest value, the
    /// bars, and the first and last bucket's labels.
    pub fn html(&self) -> String {
        let top = self
            .buckets
            .iter()
            .flat_map(|b| b.values.iter().copied())
            .fold(0.0_f64, f64::max);
        let scale = if top > 0.0 { HEIGHT / top } else { 0.0 };
        let mut out = String::new();
        let _ = write!(
            out,
            "<figure class=\"chart\"><figcaption>{}</figcaption><ul class=\"chart-legend\">",
            escape(&self.title)
        );
        for series in &self.series {
            let _ = write!(
                out,
                "<li><span class=\"swatch {}\"></span>{}</li>",
                series.class, series.name
            );
        }
        let _ = write!(
            out,
            "</ul><div class=\"chart-top\">{} {}</div>\
             <svg class=\"chart-bars\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" preserveAspectRatio=\"none\" \
             role=\"img\" aria-label=\"{}\">",
            amount(top),
            self.unit,
            escape(&self.title)
        );
        let slot = WIDTH / self.buckets.len().max(1) as f64;
        let gap = (slot * 0.15).min(4.0);
        let bar = (slot - gap) / self.series.len().max(1) as f64;
        for (i, bucket) in self.buckets.iter().enumerate() {
            for (j, (value, series)) in bucket.values.iter().zip(&self.series).enumerate() {
                // A value above zero stays visible however small it is.
                let height = if *value > 0.0 {
                    (value * scale).max(1.0)
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "<rect class=\"{}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\">\
                     <title>{}: {} {} {}</title></rect>",
                    series.class,
                    i as f64 * slot + gap / 2.0 + j as f64 * bar,
                    HEIGHT - height,
                    bar,
                    height,
                    escape(&bucket.label),
                    amount(*value),
                    self.unit,
                    series.name,
                );
            }
        }
        let _ = write!(
            out,
            "<line class=\"chart-axis\" x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\"/></svg>\
             <div class=\"chart-x\"><span>{}</span><span>{}</span></div></figure>",
            escape(&self.from_label),
            escape(&self.to_label)
        );
        out
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: &[(f64, f64)]) -> BarChart {
        BarChart {
            title: "Records <per> hour".into(),
            unit: "records",
            series: vec![
                Series {
                    name: "in",
                    class: "series-in",
                },
                Series {
                    name: "out",
                    class: "series-out",
                },
            ],
            buckets: values
                .iter()
                .enumerate()
                .map(|(i, (a, b))| Bucket {
                    label: format!("{i}:00"),
                    values: vec![*a, *b],
                })
                .collect(),
            from_label: "0:00".into(),
            to_label: "now".into(),
        }
    }

    #[test]
    fn bars_are_scaled_to_the_largest_value_and_labelled() {
        let html = chart(&[(100.0, 50.0), (0.0, 1.0)]).html();
        assert!(
            html.contains("<figcaption>Records &lt;per&gt; hour</figcaption>"),
            "{html}"
        );
        assert!(
            html.contains("<div class=\"chart-top\">100 records</div>"),
            "{html}"
        );
        // The largest bar fills the height, half of it half, zero nothing.
        assert!(
            html.contains(
                "y=\"0.00\" width=\"148.00\" height=\"120.00\"><title>0:00: 100 records in</title>"
            ),
            "{html}"
        );
        assert!(
            html.contains("height=\"60.00\"><title>0:00: 50 records out</title>"),
            "{html}"
        );
        assert!(
            html.contains("height=\"0.00\"><title>1:00: 0 records in</title>"),
            "{html}"
        );
        // A small value stays visible.
        assert!(
            html.contains("height=\"1.20\"><title>1:00: 1 records out</title>"),
            "{html}"
        );
        assert_eq!(html.matches("<rect ").count(), 4);
    }

    #[test]
    fn an_empty_chart_draws_no_bar_and_no_nonsense() {
        let html = chart(&[(0.0, 0.0)]).html();
        assert!(!html.contains("NaN") && !html.contains("inf"), "{html}");
        assert!(chart(&[]).html().contains("<svg"));
    }
}
