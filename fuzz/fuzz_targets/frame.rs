//! Fuzzes the PostgreSQL frame codec and the message decoders with arbitrary bytes: they must
//! never panic, and every frame they cut must be exactly as long as its header says.
#![no_main]
#![allow(dead_code)]

#[path = "../../src/gateway/postgres/frame.rs"]
mod frame;
#[path = "../../src/gateway/postgres/message.rs"]
mod message;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = frame::split_frame(&mut buf) {
        let declared = i32::from_be_bytes([
            frame.raw()[1],
            frame.raw()[2],
            frame.raw()[3],
            frame.raw()[4],
        ]);
        assert_eq!(declared as usize + 1, frame.raw().len());
        let _ = message::query_text(&frame);
        let _ = message::parse(&frame);
        let _ = message::bind(&frame);
        let _ = message::execute(&frame);
        let _ = message::target_of(&frame);
        let _ = message::function_oid(&frame);
        let _ = message::command_tag(&frame).map(|t| message::tag_rows(&t));
        let _ = message::error_fields(&frame);
        let _ = message::ready_status(&frame);
        let _ = message::sasl_initial_response(&frame);
        let _ = message::describe(&frame);
    }
    let mut buf = BytesMut::from(data);
    while let Ok(Some(packet)) = frame::split_startup(&mut buf) {
        assert!(packet.len() >= 4);
    }
});
