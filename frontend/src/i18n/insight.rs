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
        PlotRoundTrip => "line's round trip to its sender (recv → send back)", "消息回到发送者的往返时间（recv → 回送）";
        PlotsTitle => "histograms of the window before the picture (log-scale buckets; frozen when paused)",
            "画面之前这段时间的直方图（对数刻度分桶；暂停时冻结）";
        Window10 => "10 s", "10 秒";
        Window60 => "60 s", "60 秒";
        WindowTitle => "the plots' window: the last 10 or 60 seconds", "直方图的时间窗口：最近 10 秒或 60 秒";
        NoData => "no data yet", "暂无数据";
    }
}
