//! What the tutorial (`../shared/seed/io-multiplexing.md`) gets wrong or says out of date, as
//! the IO-models panel corrects it: each claim (quoted in the tutorial's Chinese, said in
//! English) and the fact. The sources (man pages, kernel files) are `crate::corrections`'s.

use super::words;

words! {
    /// A claim of the tutorial, or its correction.
    pub enum Fix {
        Title => "What the tutorial gets wrong", "教程里说错了的地方";
        Claim => "The tutorial says", "教程说";
        Fact => "In fact", "实际上";
        Source => "source", "出处";
        MmapClaim => "epoll shares a block of memory between kernel and user space to avoid copying (“epoll通过内核空间和用户空间共享一块内存来减少复制”).",
            "“select/poll还要从内核空间复制消息到用户空间，而epoll通过内核空间和用户空间共享一块内存来减少复制”。";
        MmapFact => "There is no shared memory: epoll_wait copies each ready event out into the array the caller passed, one by one (ep_send_events → epoll_put_uevent, a __put_user). What epoll saves is handing over and scanning the whole fd list on every call: the interest list stays in the kernel.",
            "并没有共享内存：epoll_wait 把每个就绪事件逐个复制到调用者传入的数组里（ep_send_events → epoll_put_uevent，即 __put_user）。epoll 省掉的是每次调用都交出并扫描整个 fd 列表：关注列表一直留在内核里。";
        SelectClaim => "select can watch at most 1024 fds, a number one can change but should not (“select最多能监听1024个fd(监听数量可以修改，但不建议修改)”).",
            "“select最多能监听1024个fd(文件描述符，监听数量可以修改，但不建议修改)”。";
        SelectFact => "The limit is on the fd's number, not the count: an fd_set is a fixed bitmap of FD_SETSIZE = 1024 bits, so a server with 10 clients cannot select on fd 1500, and glibc's FD_SETSIZE cannot be changed. The man page: use poll or epoll instead.",
            "限制的是 fd 的编号，不是个数：fd_set 是固定的 FD_SETSIZE = 1024 位的位图，所以只有 10 个客户端的服务器也无法对 fd 1500 调用 select，而且 glibc 的 FD_SETSIZE 不能修改。手册的建议是改用 poll 或 epoll。";
        SigioClaim => "signal-driven IO sends SIGIO level-triggered (“产生一个SIGIO信号(电平触发)”).",
            "“当内核准备好数据后，产生一个SIGIO信号(电平触发)”。";
        SigioFact => "SIGIO is sent when IO becomes possible, when new data arrives: it is edge-like, never repeated while unread data stays. So a handler (or this loop's sigio model) must read until EAGAIN, as with epoll's edge-triggered mode.",
            "SIGIO 在 IO 变得可能时（有新数据到达时）才发出：它是类似边缘触发的，数据没读完也不会重复发送。所以信号处理函数（或本循环的 sigio 模型）必须一直读到 EAGAIN，和 epoll 的边缘触发一样。";
        AioClaim => "asynchronous IO on Linux is the aio system calls, supported since 2.6 (“Linux的aio的系统调用，内核从版本2.6开始支持”).",
            "“Linux的aio的系统调用，内核从版本2.6开始支持”。";
        AioFact => "Linux's native aio (io_submit) is only asynchronous for files opened O_DIRECT; on sockets it does the IO synchronously, inside io_submit. Asynchronous socket IO on Linux is io_uring (5.1 and later), which this page's io_uring model uses.",
            "Linux 原生的 aio（io_submit）只有对以 O_DIRECT 打开的文件才是异步的；对 socket 它在 io_submit 里同步完成 IO。Linux 上真正异步的 socket IO 是 io_uring（5.1 及以后），本页面的 io_uring 模型用的就是它。";
    }
}
