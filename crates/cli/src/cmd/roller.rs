//! `needlewise roller`: devices and their cleaning cycle.

use needlewise_core::evidence;
use needlewise_core::hygiene::{Device, DeviceKind, HygieneEvent, Material, PenSpec, RollerSpec};

use serde_json::json;

use crate::app::{App, Exit, Failure};
use crate::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: RollerCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RollerCommand {
    /// Register a roller (the 192-needle, 2 × 2 cm drum by default) or a pen.
    Add(AddArgs),
    /// Your devices and where each is in its cycle.
    List,
    /// Rinsed under warm running water.
    Rinse(Which),
    /// Put to soak in isopropyl alcohol.
    Soak {
        #[command(flatten)]
        which: Which,
        /// The alcohol's strength in percent (70 to 90).
        #[arg(long, default_value_t = 70)]
        alcohol: u8,
    },
    /// Taken out of the soak to air-dry (after at least 10 minutes).
    Dry(Which),
    /// Dry and put away capped: ready for the next session.
    Ready(Which),
    /// A new sterile cartridge fitted (pens).
    Cartridge(Which),
    /// Bent, blunt or rusty needles, scratching, or it drew blood.
    Damage {
        #[command(flatten)]
        which: Which,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Where the device is in its cycle, with the countdown.
    Status(Which),
    /// Take the device out of service for good.
    Retire {
        #[command(flatten)]
        which: Which,
        #[arg(long, default_value = "replaced")]
        reason: String,
    },
}

#[derive(Debug, clap::Args)]
struct Which {
    /// Name or id; defaults to your only device in service.
    device: Option<String>,
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// A name you will recognise, e.g. "bathroom roller".
    #[arg(long)]
    name: String,
    /// Needle length in mm.
    #[arg(long, default_value_t = 0.25)]
    needle_mm: f64,
    /// A pen with single-use cartridges instead of a roller.
    #[arg(long)]
    pen: bool,
    /// A radiofrequency (RF) microneedling device: refused, with the reason
    /// (RF microneedling is never for home use).
    #[arg(long, conflicts_with = "pen")]
    rf: bool,
    #[arg(long, default_value_t = 192, conflicts_with = "pen")]
    needles: u32,
    #[arg(long, default_value_t = 8, conflicts_with = "pen")]
    rings: u32,
    #[arg(long, default_value_t = 20.0, conflicts_with = "pen")]
    drum_diameter_mm: f64,
    #[arg(long, default_value_t = 20.0, conflicts_with = "pen")]
    drum_width_mm: f64,
    #[arg(
        long,
        value_enum,
        default_value = "stainless-steel",
        conflicts_with = "pen"
    )]
    material: MaterialArg,
    /// Needles per pen cartridge.
    #[arg(long, default_value_t = 12, requires = "pen")]
    cartridge_needles: u32,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MaterialArg {
    StainlessSteel,
    Titanium,
    Other,
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    let rules = &evidence().defaults.hygiene;
    let profile = app.profile()?;
    let store = app.store()?;
    let (device, event) = match args.command {
        RollerCommand::Add(a) => {
            if a.rf {
                return Err(needlewise_actions::radiofrequency_refused().into());
            }
            let kind = if a.pen {
                DeviceKind::Pen(PenSpec {
                    needles_per_cartridge: a.cartridge_needles,
                    needle_length_mm: a.needle_mm,
                })
            } else {
                DeviceKind::Roller(RollerSpec {
                    needle_count: a.needles,
                    rings: a.rings,
                    drum_diameter_mm: a.drum_diameter_mm,
                    drum_width_mm: a.drum_width_mm,
                    needle_length_mm: a.needle_mm,
                    material: match a.material {
                        MaterialArg::StainlessSteel => Material::StainlessSteel,
                        MaterialArg::Titanium => Material::Titanium,
                        MaterialArg::Other => Material::Other,
                    },
                })
            };
            let now = app.zoned_now();
            let device = needlewise_actions::register_device(
                app.ctx(&now)?,
                &profile,
                needlewise_actions::NewDevice { name: a.name, kind },
            )?;
            if !app.json {
                println!(
                    "Added {} ({}). {}",
                    device.name, device.id, rules.share.explanation
                );
            }
            return show(app, &device);
        }
        RollerCommand::List => {
            let devices = store.devices(profile.id)?;
            if app.json {
                let list: Vec<_> = devices
                    .iter()
                    .map(|d| json!({"device": d, "status": d.status(app.now, rules)}))
                    .collect();
                output::json(&list)?;
            } else if devices.is_empty() {
                println!(
                    "No devices yet. Add one with `needlewise roller add --name \"bathroom roller\"`."
                );
            } else {
                for d in &devices {
                    let s = d.status(app.now, rules);
                    println!(
                        "{:<24} {:<8} {:>2} uses  {}  ({})",
                        d.name,
                        s.state,
                        s.use_count,
                        s.next_step,
                        &d.id.to_string()[..8]
                    );
                }
            }
            return Ok(Exit::Ok);
        }
        RollerCommand::Status(w) => {
            let device = super::resolve_device(app, &profile, w.device.as_deref())?;
            return show(app, &device);
        }
        RollerCommand::Rinse(w) => (w, HygieneEvent::Rinse),
        RollerCommand::Soak { which, alcohol } => (
            which,
            HygieneEvent::Soak {
                alcohol_percent: alcohol,
            },
        ),
        RollerCommand::Dry(w) => (w, HygieneEvent::Dry),
        RollerCommand::Ready(w) => (w, HygieneEvent::MarkReady),
        RollerCommand::Cartridge(w) => (w, HygieneEvent::FitCartridge),
        RollerCommand::Damage { which, note } => (which, HygieneEvent::ReportDamage { note }),
        RollerCommand::Retire { which, reason } => (which, HygieneEvent::Retire { reason }),
    };
    let current = super::resolve_device(app, &profile, device.device.as_deref())?;
    let now = app.zoned_now();
    let next =
        needlewise_actions::device_step(app.ctx(&now)?, profile.id, current.id, &event, None)?;
    show(app, &next)
}

fn show(app: &App, device: &Device) -> Result<Exit, Failure> {
    let status = device.status(app.now, &evidence().defaults.hygiene);
    if app.json {
        output::json(&json!({"device": device, "status": status}))?;
    } else {
        println!("{}: {} — {}", device.name, status.state, status.next_step);
        println!(
            "  uses: {} ({} left before replacement)",
            status.use_count, status.uses_left
        );
        if let Some(t) = status.step_done_at {
            println!("  this step is long enough at {}", app.local(t));
        }
    }
    Ok(Exit::Ok)
}
