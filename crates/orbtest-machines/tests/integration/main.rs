//! The machines client's recovery rules against scripted providers (each verb plays the next
//! scripted answer, so races a simulator cannot stage on demand become exact). The client
//! against orbsim's scenario faults is tested in cargo-orbtest, which embeds the simulator.

mod scripted;
