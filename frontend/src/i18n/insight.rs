//! The fixed words of the warnings' badges and the plots (`crate::insight`). Text with values
//! in it (an fd, a time) is in `crate::insight::text`.

use super::words;

words! {
    /// A fixed label of a warning badge or of the plots.
    pub enum Sight {
        Warnings => "warnings", "警告";
        Blocked => "loop blocked", "事件循环被阻塞";
        SlowConsumer => "slow consumer cut", "慢消费者被断开";
        EtStarved => "ET: read stopped before EAGAIN", "ET：没读到 EAGAIN 就停了";
        FdsClimbing => "fds climbing", "fd 数持续上升";
        SelectNearLimit => "select near FD_SETSIZE", "select 接近 FD_SETSIZE";
        PlotBlocked => "time blocked per wait", "每次等待的阻塞时间";
        PlotEvents => "events per wakeup", "每次唤醒的事件数";
        PlotBytes => "bytes per send", "每次发送的字节数";
        // Short: it is a canvas title; the README and `insight::plots` say what it measures.
        PlotRoundTrip => "round trip to sender", "回到发送者的往返时间";
        PlotsTitle => "histograms of the window before the picture (log-scale buckets; frozen when paused); a line's round trip is from the recv that read it to the send that brings it back to its sender",
            "画面之前这段时间的直方图（对数刻度分桶；暂停时冻结）；消息的往返时间从读到它的 recv 算起，到把它送回发送者的 send 为止";
        Window10 => "10 s", "10 秒";
        Window60 => "60 s", "60 秒";
        WindowTitle => "the plots' window: the last 10 or 60 seconds", "直方图的时间窗口：最近 10 秒或 60 秒";
        NoData => "no data yet", "暂无数据";
    }
}
