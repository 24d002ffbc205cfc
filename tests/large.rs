//! Large typed messages in Rust: a 24 MB `Image4K` (more than ten times a
//! spawned thread's 2 MiB stack) published in place and received into a box,
//! by PUB/SUB and by PUSH/PULL, on threads with a 2 MiB stack. Receiving it
//! by value is refused when built (a `compile_fail` doctest on
//! `shm_comm::message::MAX_BY_VALUE`).

use std::time::Duration;

use shm_comm::msgs::Image4K;
use shm_comm::pipeline::{Puller, Pusher};
use shm_comm::pubsub::{Publisher, Subscriber};
use shm_comm::zeroed_box;
use suite::TestChannel;

const T: Duration = Duration::from_secs(30);
const STACK: usize = 2 << 20;

/// Runs `f` on a thread with a 2 MiB stack, the default of `std::thread`.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the small-stack thread panicked (or overflowed its stack)");
}

/// Fills `img` as frame `seq`: a full 4K RGB8 image whose bytes depend on
/// their position and on `seq`.
fn paint(img: &mut Image4K, seq: u8) {
    img.height = 2160;
    img.width = 3840;
    img.step = 3840 * 3;
    img.encoding.set("rgb8").unwrap();
    img.data.set(&[0; 0]).unwrap();
    let n = (img.height * img.step) as usize;
    for i in 0..n {
        img.data.push((i as u8) ^ (i >> 13) as u8 ^ seq).unwrap();
    }
}

fn check(img: &Image4K, seq: u8) {
    assert_eq!((img.width, img.height, img.step), (3840, 2160, 11520));
    assert_eq!(img.encoding.as_str().unwrap(), "rgb8");
    let data = img.data.as_slice();
    assert_eq!(data.len(), 24_883_200);
    if let Some(i) = (0..data.len()).find(|&i| data[i] != (i as u8) ^ (i >> 13) as u8 ^ seq) {
        panic!("frame {seq}: byte {i} is {} ", data[i]);
    }
}

#[test]
fn image_4k_into_a_box_and_recv_into_on_a_2_mib_stack() {
    let ch = TestChannel::new("large-4k-sub");
    let name = ch.name().to_owned();
    on_small_stack(move || {
        let mut publisher = Publisher::<Image4K>::create(&name).unwrap();
        let mut sub = Subscriber::<Image4K>::connect(&name).unwrap();

        // recv_into: into a box made once, reused.
        let mut frame = zeroed_box::<Image4K>();
        for seq in 0..2 {
            let mut loan = publisher.loan().unwrap();
            paint(&mut loan, seq);
            loan.send().unwrap();
            sub.recv_into_timeout(&mut frame, T).unwrap();
            check(&frame, seq);
        }

        // recv_boxed: a new box per message.
        let mut loan = publisher.loan().unwrap();
        paint(&mut loan, 7);
        loan.send().unwrap();
        check(&sub.recv_boxed_timeout(T).unwrap(), 7);
        assert!(
            sub.try_recv_into(&mut frame).is_err(),
            "only three were sent"
        );
    });
    drop(ch);
}

#[test]
fn image_4k_job_into_a_box_on_a_2_mib_stack() {
    let ch = TestChannel::new("large-4k-queue");
    let name = ch.name().to_owned();
    // The job is built on the heap; only the pusher's side needs it whole.
    let mut job = zeroed_box::<Image4K>();
    paint(&mut job, 3);
    let pusher = Pusher::<Image4K>::create(&name).unwrap();
    pusher.send_ref(&job).unwrap();
    pusher.send_ref(&job).unwrap();
    on_small_stack(move || {
        let puller = Puller::<Image4K>::connect(&name).unwrap();
        assert_eq!(puller.len(), 2);
        let mut frame = zeroed_box::<Image4K>();
        puller.recv_into_timeout(&mut frame, T).unwrap();
        check(&frame, 3);
        check(&puller.recv_boxed_timeout(T).unwrap(), 3);
        assert!(puller.is_empty());
    });
    drop(pusher);
    drop(ch);
}
