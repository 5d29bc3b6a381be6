//! The fixed words of the page's frame: header, controls, file buttons, counters, chat,
//! timeline bar, stage and wait bar.

use super::words;

words! {
    /// A fixed label, button or tooltip of the page's frame.
    pub enum Ui {
        Tagline => "see IO multiplexing work, live", "实时观看 IO多路复用 如何工作";
        LangTitle => "switch the page's language (remembered)", "切换页面语言（会被记住）";
        Live => "● live", "● 实时";
        Connecting => "○ connecting", "○ 连接中";
        // Controls.
        Resume => "▶ resume", "▶ 继续";
        Pause => "❚❚ pause", "❚❚ 暂停";
        Back => "|◀ back", "|◀ 后退";
        BackTitle => "one event back (pauses)", "后退一个事件（并暂停）";
        Step => "▶| step", "▶| 单步";
        StepTitle => "play one event (pauses)", "播放一个事件（并暂停）";
        Speed => "speed", "速度";
        SpeedLive => "1× live", "1× 实时";
        ToLive => "» live", "» 实时";
        ToLiveTitle => "jump back to live", "跳回实时";
        QueueLive => "live", "实时";
        ScrubLabel => "history: scrub to any point kept", "历史：拖动到保留的任意时刻";
        // Files.
        Trace => "⤓ trace", "⤓ 追踪文件";
        TraceTitle => "the history as Chrome Trace Event JSON: open it in Perfetto (ui.perfetto.dev) or catapult's trace viewer",
            "把历史导出为 Chrome Trace Event JSON：可在 Perfetto (ui.perfetto.dev) 或 catapult 的 trace viewer 中打开";
        Recording => "⤓ recording", "⤓ 录制文件";
        RecordingTitle => "the history as a recording: open it here again, or `muxscope replay FILE` / `muxscope export FILE`",
            "把历史保存为录制文件：可在此页面再次打开，或用 `muxscope replay FILE` / `muxscope export FILE`";
        Open => "⤒ open", "⤒ 打开";
        OpenTitle => "open a recording (muxscope --record FILE, or one this page saved)", "打开录制文件（muxscope --record FILE，或本页面保存的）";
        CloseFile => "✕ live", "✕ 实时";
        CloseFileTitle => "back to the live loop", "回到实时的事件循环";
        TruncatedRecording => "the recording ends inside a chunk (its writer was killed): showing what came before",
            "录制文件在一个数据块中间结束（写入它的进程被杀死了）：显示此前的内容";
        // Counters.
        Clients => "clients", "客户端";
        WakeupsPerS => "wakeups/s", "唤醒/秒";
        EventsPerWakeup => "events/wakeup", "事件/唤醒";
        MessagesPerS => "messages/s", "消息/秒";
        BytesPerS => "bytes/s", "字节/秒";
        Messages => "messages", "消息";
        EventsFolded => "events folded", "折叠的事件";
        EventsDropped => "events dropped", "丢弃的事件";
        // Chat.
        Chat => "chat", "群聊";
        YourNick => "your nick", "你的昵称";
        SaySomething => "say something (nc 127.0.0.1 3999 works too)", "说点什么（也可以用 nc 127.0.0.1 3999）";
        Send => "send", "发送";
        NickFirst => "choose a nick first: 1 to 32 characters, no spaces or brackets", "请先取个昵称：1 到 32 个字符，不含空格和方括号";
        ConnectionClosed => "connection closed", "连接已关闭";
        // Event log.
        LogTitle => "click a line to go to that moment", "点击一行，跳到那一刻";
        // Timeline bar.
        Timeline => "▾ timeline", "▾ 时间线";
        TimelineClosed => "▸ timeline", "▸ 时间线";
        TimelineOpenTitle => "open the per-fd timeline", "打开按 fd 分道的时间线";
        LoopLane => "loop", "循环";
        Nap => "nap", "小睡";
        TimelineTitle => "close the timeline (it then costs nothing)", "关闭时间线（关闭后不占任何开销）";
        ZoomOut => "zoom out", "缩小";
        ZoomIn => "zoom in", "放大";
        Fit => "fit", "全部";
        FitTitle => "the whole window, following the cursor", "显示整个窗口，并跟随光标";
        Follow => "follow", "跟随";
        FollowTitle => "follow the cursor again", "重新跟随光标";
        // Stage.
        Loop => "loop", "循环";
        StageLabel => "the event loop", "事件循环";
        // Wait bar.
        FirstWakeup => "waiting for the first wakeup…", "等待第一次唤醒…";
        NoWait => "no wait: recv on every socket in turn", "不等待：依次对每个 socket 调用 recv";
        EagainTitle => "recv and send that returned EAGAIN, and accept that found the backlog empty, per second",
            "每秒返回 EAGAIN 的 recv 和 send，以及发现连接队列为空的 accept";
        EveryReader => " in every reader thread, accept4 in the acceptor: each blocks on its own socket",
            " 在每个读线程中，accept4 在接受线程中：每个线程阻塞在自己的 socket 上";
        NoSweepYet => "no sweep seen yet", "还没有看到轮询";
        Spins => "spinning (--spin): no nap", "空转（--spin）：从不休眠";
    }
}
