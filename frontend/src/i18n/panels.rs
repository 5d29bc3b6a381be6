//! The fixed words of the panels under the stage (the IO models, the compare table) and of the
//! model picker. The IO models keep the tutorial's own names (阻塞IO, 非阻塞IO, IO多路复用,
//! 信号驱动IO, 异步IO) and its two phases (数据准备阶段, 内核空间复制回用户空间).

use super::words;

words! {
    /// A fixed label of the panels or the model picker.
    pub enum Panel {
        ModelsSummary => "IO models: where does each one wait, and where does this loop?", "IO模型：每种模型在哪里等待？这个循环又在哪里？";
        Model => "model", "模型";
        Phase1 => "① the kernel waits for the data", "① 数据准备阶段：内核等待数据";
        Phase2 => "② recv copies it to user space", "② 内核空间复制回用户空间：recv 复制数据";
        ThisLoop => "this loop", "本循环";
        Sync => "sync", "同步";
        Async => "async", "异步";
        NotFaster => "Multiplexing is not faster than a thread per connection when connections are few. It lets one thread serve many of them, without a thread's memory and context switches for each.",
            "连接少时，IO多路复用并不比“多线程 + 同步阻塞IO”快。它的优势是一个线程就能服务很多连接，不必为每个连接付出一个线程的内存和上下文切换。";
        BlockingIo => "blocking IO", "阻塞IO";
        NonblockingIo => "non-blocking IO", "非阻塞IO";
        MultiplexingIo => "IO multiplexing", "IO多路复用";
        SignalIo => "signal-driven IO", "信号驱动IO";
        AsyncIo => "asynchronous IO", "异步IO";
        // Compare.
        CompareSummary => "compare the models: what each one cost while it served (switch with the picker above)",
            "比较各模型：每个模型服务期间的开销（用上方的选择器切换）";
        Asking => "asking the server what each model cost…", "正在向服务器询问各模型的开销…";
        NotYet => "no model has served long enough to measure yet", "还没有模型服务足够久，无法测量";
        Serving => "serving", "服务中";
        ServedS => "served s", "服务秒数";
        SyscallsPerDelivery => "syscalls/delivery", "系统调用/投递";
        WakeupsPerS => "wakeups/s", "唤醒/秒";
        EagainPerS => "EAGAIN/s", "EAGAIN/秒";
        Cpu => "CPU %", "CPU %";
        Threads => "threads", "线程";
        Rss => "RSS MiB", "RSS MiB";
        CtxSwitches => "ctx switches/s", "上下文切换/秒";
        Rtt => "RTT p50 ms", "RTT p50 毫秒";
        // Picker.
        PickerTitle => "the IO model serving the chat; choose another to switch live, every connection kept",
            "正在为群聊服务的IO模型；选择另一个即可实时切换，所有连接都保留";
        Unavailable => "unavailable", "不可用";
        Switching => "switching…", "切换中…";
    }
}

/// The compare table's columns, the model's name first (as [`crate::compare::COLUMNS`]).
pub const COLUMNS: [Panel; 10] = [
    Panel::Model,
    Panel::ServedS,
    Panel::SyscallsPerDelivery,
    Panel::WakeupsPerS,
    Panel::EagainPerS,
    Panel::Cpu,
    Panel::Threads,
    Panel::Rss,
    Panel::CtxSwitches,
    Panel::Rtt,
];
