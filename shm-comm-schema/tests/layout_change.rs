//! A schema change on one side makes the other side's open fail, naming the
//! field: a topic created with the layout of an edited `schemas/sensors.toml`
//! is refused by a subscriber of the generated `shm_comm::msgs::Imu`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use shm_comm::msgs::Imu;
use shm_comm::pubsub::{ConnectOptions, PubOptions, RawPublisher, Subscriber};
use shm_comm::segment::Payload;
use shm_comm::OpenError;
use shm_comm_schema::{compile_std, std_sources, SchemaError};

/// A channel name of this test run, removed when dropped.
struct Channel(String);

impl Channel {
    fn new(what: &str) -> Channel {
        static N: AtomicU32 = AtomicU32::new(0);
        Channel(format!(
            "test/schema/{what}/{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let _ = shm_comm::segment::force_unlink(&self.0);
    }
}

/// The standard set with `edit` applied to `sensors.toml`.
fn edited(edit: impl Fn(&str) -> String) -> Result<shm_comm::LayoutDescriptor, SchemaError> {
    let mut sources = std_sources();
    let sensors = sources
        .iter_mut()
        .find(|s| s.path.ends_with("sensors.toml"))
        .unwrap();
    let before = sensors.text.clone();
    sensors.text = edit(&before);
    assert_ne!(sensors.text, before, "the edit changed nothing");
    let schema = compile_std(&sources)?;
    Ok(schema.get("Imu").unwrap().layout.clone())
}

/// Opens a topic of `layout` and connects a `Subscriber<Imu>` to it.
fn open_as_imu(layout: &shm_comm::LayoutDescriptor) -> OpenError {
    let ch = Channel::new("imu");
    let payload = Payload::of_layout(layout);
    let _publisher = RawPublisher::create(
        &ch.0,
        &payload,
        PubOptions {
            capacity: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let opts = ConnectOptions {
        timeout: Duration::from_secs(2),
        ..Default::default()
    };
    match Subscriber::<Imu>::connect_with(&ch.0, opts) {
        Ok(_) => panic!("a changed layout was accepted"),
        Err(e) => e,
    }
}

fn difference(e: &OpenError) -> &str {
    match e {
        OpenError::LayoutMismatch { difference, .. } => difference,
        other => panic!("expected LayoutMismatch, got {other}"),
    }
}

const IMU_ORIENTATION: &str = r#"    { name = "orientation", type = "Quaternion" },"#;

#[test]
fn unchanged_schema_connects() {
    let layout = edited(|s| s.replace("Row by row; all zeros", "Row by row: all zeros")).unwrap();
    let ch = Channel::new("same");
    let payload = Payload::of_layout(&layout);
    let _p = RawPublisher::create(&ch.0, &payload, PubOptions::default()).unwrap();
    Subscriber::<Imu>::connect(&ch.0).unwrap();
}

#[test]
fn renamed_field_is_named() {
    let layout = edited(|s| {
        s.replacen(
            IMU_ORIENTATION,
            r#"    { name = "attitude", type = "Quaternion" },"#,
            1,
        )
    })
    .unwrap();
    let e = open_as_imu(&layout);
    let d = difference(&e);
    assert!(
        d.contains("`orientation`") && d.contains("`attitude`"),
        "{e}"
    );
    assert!(e.to_string().contains("`Imu`"), "{e}");
}

#[test]
fn reordered_fields_are_named() {
    let layout = edited(|s| {
        let vel = r#"    { name = "angular_velocity", type = "Vector3", doc = "rad/s." },"#;
        let acc = r#"    { name = "linear_acceleration", type = "Vector3", doc = "m/s^2." },"#;
        s.replacen(vel, "@VEL@", 1)
            .replacen(acc, vel, 1)
            .replacen("@VEL@", acc, 1)
    })
    .unwrap();
    let d = open_as_imu(&layout);
    let d = difference(&d);
    assert!(
        d.contains("`angular_velocity`") && d.contains("`linear_acceleration`"),
        "{d}"
    );
}

#[test]
fn retyped_field_is_named() {
    let layout = edited(|s| {
        s.replacen(
            r#"{ name = "orientation_covariance", type = "[f64; 9]""#,
            r#"{ name = "orientation_covariance", type = "[f32; 9]""#,
            1,
        )
    })
    .unwrap();
    let d = open_as_imu(&layout);
    let d = difference(&d);
    assert!(
        d.contains("`orientation_covariance`") && d.contains("[f32; 9]") && d.contains("[f64; 9]"),
        "{d}"
    );
}

#[test]
fn change_in_a_nested_message_is_named_with_its_path() {
    // `Quaternion` lives in geometry.toml: rename its `w`.
    let mut sources = std_sources();
    let geometry = sources
        .iter_mut()
        .find(|s| s.path.ends_with("geometry.toml"))
        .unwrap();
    geometry.text = geometry.text.replacen(
        r#"    { name = "w", type = "f64" },"#,
        r#"    { name = "qw", type = "f64" },"#,
        1,
    );
    let layout = compile_std(&sources)
        .unwrap()
        .get("Imu")
        .unwrap()
        .layout
        .clone();
    let e = open_as_imu(&layout);
    let d = difference(&e);
    assert!(
        d.contains("`orientation.w`") && d.contains("`orientation.qw`"),
        "{d}"
    );
}
