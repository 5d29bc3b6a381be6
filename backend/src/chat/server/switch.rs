//! Switching the model live. Every connection stays: its socket, name, partial line and queued
//! output live in the loop's own tables, which no model owns. Only the kernel's side changes:
//! the old model's table is torn down (one `ctl del` per fd: `epoll_ctl`, a table edit, or the
//! fcntl that disarms a signal), the new one built (`ctl add` per fd), and a `model` event says
//! the new model serves from there on.

use super::*;

impl ChatServer {
    /// Whether `model` can take over every connection now; the reason if not.
    pub(super) fn can_switch(&self, model: Model) -> Result<(), String> {
        let from = self.sel.kind();
        if self.relay.is_some() && !model.is_poller() {
            return Err(format!(
                "the cluster relay runs in the multiplexing models (select, poll, epoll, epoll-et), not {model}; still on {from}"
            ));
        }
        if model == Model::Select {
            if let Some(k) = self.sel.keys().find(|k| k.fd >= libc::FD_SETSIZE as RawFd) {
                return Err(format!(
                    "select() cannot watch fd {}: fd_set holds only FD_SETSIZE={} fds; {} fds are registered; still on {from}",
                    k.fd,
                    libc::FD_SETSIZE,
                    self.sel.len()
                ));
            }
        }
        if model == Model::IoUring {
            uring::probe().map_err(|why| format!("{why}; still on {from}"))?;
        }
        if model == Model::Blocking && self.live.len() + 1 > self.cfg.max_threads {
            return Err(format!(
                "the blocking model needs a thread per connection: {} clients and an acceptor exceed --max-threads {}; still on {from}",
                self.live.len(),
                self.cfg.max_threads
            ));
        }
        Ok(())
    }

    /// For the models with a loop of their own (blocking, io_uring): a pending switch request
    /// that ends it. A request for the model already serving, or one it cannot take, is
    /// answered here and the model carries on.
    pub(super) fn take_leaving_request(&mut self) -> Option<SwitchRequest> {
        let req = self.control.take_switch()?;
        if req.model == self.sel.kind() {
            let _ = req.reply.send(Ok(req.model));
            return None;
        }
        if let Err(why) = self.can_switch(req.model) {
            let _ = req.reply.send(Err(why));
            return None;
        }
        Some(req)
    }

    pub(super) fn switch_to(&mut self, model: Model) -> Result<Model, String> {
        let from = self.sel.kind();
        if model == from {
            return Ok(model);
        }
        self.can_switch(model)?;
        // Built before anything is torn down: if the new model cannot start, nothing changed.
        let fresh = Selector::new(model, Telemetry::disabled()).map_err(|e| format!("cannot start {model}: {e}; still on {from}"))?;
        if model == Model::IoUring {
            self.uring = Some(Box::new(uring::Uring::new().map_err(|why| format!("{why}; still on {from}"))?));
        }
        // The ring waits on sockets in blocking mode (see uring.rs); everyone else wants them
        // non-blocking (the blocking model sets its own when its threads start).
        if model == Model::IoUring || from == Model::IoUring {
            for &fd in &self.live {
                let _ = sys::set_nonblocking(fd, model != Model::IoUring);
            }
        }
        self.sel.tel.emit_table(|| EventBody::Handover { from, to: model });
        let keys: Vec<_> = self.sel.keys().copied().collect();
        for k in &keys {
            let _ = self.sel.unregister(k.fd);
        }
        let tel = std::mem::replace(&mut self.sel.tel, Telemetry::disabled());
        let old = std::mem::replace(&mut self.sel, fresh);
        self.sel.tel = tel;
        drop(old);
        self.control.set_signal_tid(if model == Model::Sigio { sys::gettid() } else { 0 });
        let mut lost = Vec::new();
        for k in &keys {
            if let Err(e) = self.sel.register(k.fd, k.interest, k.data) {
                lost.push((k.fd, e.to_string()));
            }
        }
        for (fd, why) in lost {
            // Checked above for select; any other refusal is the kernel's, and said so.
            tracing::warn!("fd {fd} could not join {model}: {why}");
            self.close_client(fd, CloseReason::Error, Some(format!("could not join {model}: {why}")));
        }
        // Edge-triggered epoll reports what is ready when an fd is added, sigio hands every new
        // fd back once, the threads and the ring read on their own: nothing waiting is missed,
        // so nothing is carried (and io_uring's turns would never take the list down).
        for fd in std::mem::take(&mut self.carry) {
            if let Some(c) = self.client(fd) {
                c.carry = false;
            }
        }
        self.listener_carry = false;
        self.idle_sweep = false;
        self.control.set_model(model);
        self.sel.tel.emit_table(|| EventBody::Model { model, from: Some(from) });
        tracing::info!(%from, to = %model, clients = self.live.len(), "switched model");
        Ok(model)
    }
}
