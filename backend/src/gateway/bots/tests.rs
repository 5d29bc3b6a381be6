use super::*;

#[test]
fn within_every_bound_is_fine() {
    assert_eq!(check(0, 1, 1.0), Ok(()));
    assert_eq!(check(0, 1_000, 5.0), Ok(()), "1,000 bots × 5 = the total cap exactly");
    assert_eq!(check(4_000, 1_000, 1.0), Ok(()), "5,000 bots exactly");
    assert_eq!(check(0, 250, MAX_RATE_EACH), Ok(()), "the per-bot cap exactly");
    assert_eq!(check(MAX_BOTS, 0, 0.5), Ok(()), "a full room may still change its rate");
    assert_eq!(check(MAX_BOTS, 0, 0.0), Ok(()), "idle bots cost no lines");
}

#[test]
fn too_many_bots_is_refused_with_the_cap_and_what_fits() {
    let Err(Refused::Over(Bound::Bots, m)) = check(4_950, 100, 0.1) else { panic!("5,050 bots accepted") };
    assert!(m.contains("at most 5000 bots") && m.contains("4950 running") && m.contains("add at most 50"), "{m}");
    assert!(matches!(check(0, usize::MAX, 0.0), Err(Refused::Over(Bound::Bots, _))), "no overflow");
}

#[test]
fn a_rate_over_either_cap_is_refused_and_says_which() {
    let Err(Refused::Over(Bound::RateEach, m)) = check(0, 1, 21.0) else { panic!() };
    assert!(m.contains("at most 20 lines a second for each bot"), "{m}");
    let Err(Refused::Over(Bound::TotalRate, m)) = check(900, 100, 6.0) else { panic!() };
    assert!(m.contains("at most 5000 lines a second across all bots") && m.contains("1000 bots × 6"), "{m}");
}

#[test]
fn a_rate_that_is_no_rate_is_a_bad_request() {
    for r in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(check(0, 1, r), Err(Refused::Bad(_))), "{r}");
    }
}

/// A listener that accepts and reads, as the chat port would (bots must be read to be served).
async fn sink() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                use tokio::io::AsyncReadExt;
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn over_a_bound_nothing_changes_and_remove_all_ends_them() {
    let bots = Bots::new(sink().await);
    let s = bots.add(3, Some(2.0)).await.unwrap();
    assert_eq!((s.bots, s.rate), (3, 2.0));
    assert!(matches!(bots.add(MAX_BOTS, None).await, Err(Refused::Over(..))));
    assert!(matches!(bots.add(0, Some(50.0)).await, Err(Refused::Over(..))));
    let s = bots.status().await;
    assert_eq!((s.bots, s.rate), (3, 2.0), "a refused request adds nothing and keeps the rate");
    assert_eq!(bots.add(0, Some(0.0)).await.unwrap().rate, 0.0, "add 0 only sets the rate");
    assert_eq!(bots.remove_all().await.bots, 0);
}

#[tokio::test]
async fn bots_that_cannot_connect_are_refused_and_not_counted() {
    // A port nobody listens on: bound, then closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let bots = Bots::new(addr);
    let Err(Refused::Unreachable(m)) = bots.add(5, Some(1.0)).await else { panic!("connected to nothing") };
    assert!(m.contains("of 5 bots reached"), "{m}");
    assert_eq!(bots.status().await.bots, 0);
}
