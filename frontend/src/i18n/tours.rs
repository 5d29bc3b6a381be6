//! The guided tours' words (`crate::tour`): each tour's title, each step's text, and the tour
//! panel's buttons. The tutorial's own terms where it has them (数据准备阶段,
//! 内核空间复制回用户空间, 阻塞IO, 非阻塞IO, IO多路复用, 信号驱动IO, 异步IO); syscall names stay.

use super::words;

words! {
    /// A word of the tours: a title, a step's text, or the panel's.
    pub enum TourText {
        // The panel.
        Menu => "tour:", "导览：";
        Choose => "choose a guided tour…", "选择一个导览…";
        Next => "next ▶", "下一步 ▶";
        Back => "◀ back", "◀ 上一步";
        End => "✕ end tour", "✕ 结束导览";
        Waiting => "waiting for the loop to do it…", "等待事件循环做到这一步…";
        Arrived => "paused here: look at the highlighted part", "已在此暂停：请看高亮的部分";
        Step => "step", "步骤";
        // Titles.
        JoinTitle => "a client joins", "一个客户端加入";
        MessageTitle => "one message's life", "一条消息的一生";
        SlowTitle => "a slow reader", "一个读得慢的客户端";
        SelectTitle => "select's 1,024 wall", "select 的 1024 上限";
        ScanTitle => "scan cost: poll against epoll", "扫描的代价：poll 对比 epoll";
        EtTitle => "level- against edge-triggered", "电平触发对比边缘触发";
        ThreadsTitle => "a thread per connection against multiplexing", "每连接一个线程 对比 IO多路复用";
        // join
        JoinAccept => "A bot connects. The listening socket turns readable: a connection waits in its backlog. The loop wakes and accept() takes it: a new fd.",
            "一个机器人连上来。监听 socket 变为可读：它的连接队列里有一个连接在等。循环被唤醒，accept() 接受它：得到一个新的 fd。";
        JoinCtl => "The loop registers the new fd for reading: epoll_ctl(ADD) puts it on the interest list. From now on the kernel watches it too.",
            "循环为新 fd 注册读事件：epoll_ctl(ADD) 把它放进关注列表。从此内核也替循环盯着它。";
        JoinGrown => "The interest list grew by one (the kernel box's count). epoll keeps it in the kernel; select and poll hand their whole list over on every call.",
            "关注列表多了一个（内核框里的计数）。epoll 把它保存在内核里；select 和 poll 每次调用都要把整个列表交给内核。";
        // message
        MsgJoin => "A bot joins and will say a line every 2 s (rate 0.5). Follow one of its lines through the loop.",
            "一个机器人加入，每 2 秒说一行（速率 0.5）。跟着它的一行消息走一遍事件循环。";
        MsgWait => "The loop sleeps in epoll_wait until some fd is ready, then wakes with the ready list: the wait bar shows it and how long it slept.",
            "循环阻塞在 epoll_wait 中，直到有 fd 就绪，然后带着就绪列表醒来：等待栏显示了它，以及睡了多久。";
        MsgReady => "Phase ① 数据准备阶段: the bot's bytes are in the kernel's socket buffer, so its fd is in the ready list. The loop waited on every fd at once, not on this one alone.",
            "阶段 ① 数据准备阶段：机器人的字节已在内核的 socket 缓冲区里，所以它的 fd 在就绪列表中。循环同时等待所有 fd，而不是只等这一个。";
        MsgRecv => "Phase ② 内核空间复制回用户空间: recv copies the bytes into the loop's buffer. It does not block: the fd was ready.",
            "阶段 ② 内核空间复制回用户空间：recv 把字节复制到循环的缓冲区。它不会阻塞：这个 fd 已经就绪。";
        MsgBroadcast => "A whole line: the loop broadcasts it, queuing it once for every client (the sender too, as in the tutorial's chat).",
            "一整行：循环广播它，为每个客户端排队一份（发送者也有，和教程的群聊一样）。";
        MsgSend => "Then a send per client: each queue is flushed with one send before the loop sleeps again.",
            "然后每个客户端一次 send：循环再次睡眠之前，每个队列用一次 send 发出去。";
        // slow-reader
        SlowMake => "A slow reader stops reading. Bots always read, so make one: in a terminal run nc 127.0.0.1 3999, then press Ctrl-Z (it stays connected and reads nothing).",
            "读得慢的客户端就是不再读取的客户端。机器人总会读取，所以自己造一个：在终端运行 nc 127.0.0.1 3999，然后按 Ctrl-Z（它保持连接，但什么也不读）。";
        SlowQueue => "250 bots now say 5,000 lines/s (the bots' bound). The stopped client's socket buffer fills, send takes only part, and the rest waits in its output queue.",
            "现在 250 个机器人每秒说 5000 行（机器人的上限）。停下的客户端的 socket 缓冲区被填满，send 只发出一部分，其余留在它的输出队列里。";
        SlowArmed => "Write interest is armed for it (EPOLLOUT, the dashed ring): the loop will be told when it can take more. Everyone else is still served.",
            "循环为它布置了写关注（EPOLLOUT，虚线圈）：它能再收数据时循环会得到通知。其他人照常得到服务。";
        SlowCut => "The cut: a queue over 2 MiB for 10 s, or over 8 MiB, is closed. The kernel's socket buffers fill first, so with the default limits this takes about a minute (50 s on two cores): the cut is slow on purpose.",
            "切断：输出队列超过 2 MiB 持续 10 秒，或超过 8 MiB，连接就被关闭。内核的 socket 缓冲区要先被填满，所以按默认上限大约要一分钟（两个核上 50 秒）：切断本来就是慢的。";
        // select-wall
        SelectSwitch => "Switch to select: its fd_set is a bitmap of FD_SETSIZE = 1,024 bits, so it cannot watch an fd numbered 1,024 or more.",
            "切换到 select：它的 fd_set 是 FD_SETSIZE = 1024 位的位图，所以编号 ≥ 1024 的 fd 它无法关注。";
        SelectFill => "480 silent bots join. Each costs this process two fds, its own end and the loop's: about 980 fds, just under the wall. Joining takes a few seconds.",
            "480 个不说话的机器人加入。每个机器人在这个进程里占两个 fd（它自己的一端和循环的一端）：大约 980 个 fd，刚好在上限之下。加入要几秒钟。";
        SelectPush => "60 more bots: the loop's new fds pass 1,023, and select cannot hold them. Those bots are refused, each with a line saying why (see the log).",
            "再加 60 个机器人：循环的新 fd 超过 1023，select 装不下它们。这些机器人被拒绝，每个都收到一行说明原因（看日志）。";
        SelectServed => "Now the bots talk (a line every 10 s each): everyone under the wall is still served, the loop keeps broadcasting. poll and epoll have no such wall.",
            "现在机器人开始说话（每个每 10 秒一行）：上限以下的所有人照常得到服务，循环继续广播。poll 和 epoll 没有这个上限。";
        // scan-cost
        ScanIdle => "1,000 nearly idle bots join: each says a line every 20 s, so each wakeup finds one or two ready fds among 1,000. Joining takes a few seconds, the first lines half a minute.",
            "1000 个几乎空闲的机器人加入：每个每 20 秒说一行，所以每次唤醒时 1000 个 fd 中只有一两个就绪。加入要几秒钟，第一行要半分钟左右。";
        ScanPoll => "Under poll every wait hands the kernel the whole pollfd array, and it scans all of it to find one ready fd: see the scanned count in the wait bar.",
            "在 poll 下，每次等待都把整个 pollfd 数组交给内核，内核扫描全部才找到一个就绪的 fd：看等待栏里的扫描数。";
        ScanEpoll => "The same clients under epoll: the interest list stays in the kernel, the wait returns only the ready fd, nothing is scanned. The compare panel has both side by side.",
            "同样的客户端换成 epoll：关注列表留在内核里，等待只返回就绪的 fd，不扫描。比较面板把两者并排列出。";
        // et
        EtSwitch => "Switch to epoll-et, edge-triggered: epoll reports an fd once per new arrival, not again while unread data remains.",
            "切换到 epoll-et，边缘触发：每有新数据到达 epoll 只报告一次，数据没读完也不会再报告。";
        EtDrain => "So ET requires draining: recv until it returns EAGAIN (see the log). A loop that stops early is not woken for the bytes left, and that client stalls.",
            "所以边缘触发要求读干净：一直 recv 到返回 EAGAIN（看日志）。提前停下的循环不会因剩下的字节再被唤醒，那个客户端就卡住了。";
        EtLevel => "Back to level-triggered (the default, like Python's DefaultSelector): an fd with unread data is reported on every wait, so stopping early is safe.",
            "回到电平触发（默认，和 Python 的 DefaultSelector 一样）：有未读数据的 fd 每次等待都会被报告，所以提前停下也安全。";
        // threads
        ThreadsBlocking => "阻塞IO, the tutorial's conclusion: a thread per connection, each blocked in recv on its own socket for both phases. 20 bots join.",
            "阻塞IO，教程的结论：每个连接一个线程，每个线程在两个阶段都阻塞在自己 socket 的 recv 上。20 个机器人加入。";
        ThreadsCost => "Each connection costs a thread: its stack, and a context switch to wake it. With few connections that is simple and fast enough.",
            "每个连接花一个线程：它的栈，以及唤醒它的一次上下文切换。连接少时，这样简单，也足够快。";
        ThreadsMux => "IO多路复用: one thread, one wait for every connection. Not faster per connection; it serves many more of them (compare threads and ctx switches).",
            "IO多路复用：一个线程，一次等待管所有连接。单个连接并不更快；它能服务多得多的连接（比较线程数和上下文切换）。";
    }
}
