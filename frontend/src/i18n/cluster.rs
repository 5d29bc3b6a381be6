//! The fixed words of the cluster strip (`crate::cluster_strip`): the relay's link to Redis, the
//! nodes it hears and what was or was not relayed. The line with values in it (down since …) is
//! [`crate::cluster_strip::link_text`].

use super::words;

words! {
    /// A fixed label or tooltip of the cluster strip.
    pub enum ClusterText {
        Relay => "relay", "中继";
        Nodes => "nodes", "节点";
        Up => "relay up", "中继已连接";
        Connecting => "relay connecting…", "中继正在连接…";
        NoConnection => "no connection", "未连接";
        Me => "this node", "本节点";
        Published => "published", "已发布";
        PublishedTitle => "lines said on this node and published to the other nodes", "在本节点说出并发布给其他节点的行数";
        Received => "received", "已接收";
        ReceivedTitle => "lines from other nodes fanned out here", "来自其他节点、在本节点广播的行数";
        NotRelayed => "not relayed", "未转发";
        NotRelayedTitle => "lines said here that never reached the other nodes: the link was down, or Redis took them too slowly",
            "在本节点说出却没有送到其他节点的行数：中继断开，或 Redis 接收太慢";
        Missed => "missed", "遗漏";
        MissedTitle => "lines from other nodes that never arrived here (gaps in their numbering)",
            "来自其他节点却没有到达本节点的行数（它们编号中的缺口）";
        Unconfirmed => "unconfirmed", "未确认";
        UnconfirmedTitle => "lines written to Redis just before the link broke, never answered: they may or may not have reached the other nodes",
            "中继断开前刚写给 Redis、却没有得到应答的行数：其他节点可能收到了，也可能没有";
    }
}
