//! `--chart FILE.svg`: the table a run printed, drawn as grouped bars (one
//! group per row, one bar per forwarder) with plotters, next to the text.

use plotters::prelude::*;
use std::path::Path;

/// One series of bars: its name and one value per group.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// One value per group, in group order.
    pub values: Vec<f64>,
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(0x55, 0x55, 0x55),
    RGBColor(0x2b, 0x8c, 0xbe),
    RGBColor(0x31, 0xa3, 0x54),
    RGBColor(0xe6, 0x55, 0x0d),
];

/// Draws `series` over `groups` into an SVG file at `path`.
pub fn grouped_bars(
    path: &Path,
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[Series],
) -> anyhow::Result<()> {
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let per_group = series.len().max(1);
    // x in bar slots: each group holds one slot per series and a gap.
    let slots = groups.len() * (per_group + 1);
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..slots as f64, 0f64..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_label)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(s.values.iter().enumerate().map(|(g, v)| {
                let x = (g * (per_group + 1) + i) as f64;
                Rectangle::new([(x + 0.1, 0.0), (x + 0.9, *v)], colour.filled())
            }))?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    // One label under each group's bars (the mesh's own labels sit at
    // round numbers, not at groups).
    let style = TextStyle::from(("sans-serif", 15).into_font()).pos(
        plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ),
    );
    for (g, label) in groups.iter().enumerate() {
        let centre = (g * (per_group + 1)) as f64 + per_group as f64 / 2.0;
        let (x, y) = chart.backend_coord(&(centre, 0.0));
        root.draw(&Text::new(label.clone(), (x, y + 8), style.clone()))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_every_group_and_series() {
        let dir = std::env::temp_dir().join(format!("canopy-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("chart.svg");
        grouped_bars(
            &file,
            "forwarding",
            "msg/s",
            &["64B 1->1".into(), "64B 1->4".into()],
            &[
                Series {
                    name: "proxy".into(),
                    values: vec![100.0, 200.0],
                },
                Series {
                    name: "canopy".into(),
                    values: vec![90.0, 210.0],
                },
            ],
        )
        .unwrap();
        let svg = std::fs::read_to_string(&file).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        for text in [
            "64B 1-&gt;1",
            "64B 1-&gt;4",
            "proxy",
            "canopy",
            "forwarding",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert!(
            svg.matches("<rect").count() > 4,
            "four bars and a background"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
