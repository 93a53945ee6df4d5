//! Cursor paging (`Link: <…>; rel="next"`) and the indexed search's semantics at its edges:
//! non-ASCII text, wildcard and query-syntax characters, one- and two-character searches,
//! searches longer than any title, words beyond the newest posts the search walks (only in
//! others' drafts, only in the oldest posts), and the search index's migration going down and
//! up.

use std::collections::HashSet;

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use reqwest::{Method, Url};
use serde_json::{json, Value};
use service_kit::{with_conn, Backend, DbConn};

use posts_service::schema::posts;
use posts_service::store::SEARCH_WINDOW;

use crate::helpers::*;

/// One page: its post ids, and the absolute URL its `Link: <…>; rel="next"` names.
struct PageOf {
    ids: Vec<i64>,
    next: Option<String>,
}

impl TestApp {
    /// Fetches `url` (absolute, or a path) and reads its page and `Link` header.
    async fn page_at(&self, token: &str, url: &str) -> PageOf {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            self.url(url)
        };
        let resp = self
            .api
            .client()
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let links: Vec<String> = resp
            .headers()
            .get_all("link")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert!(links.len() <= 1, "{links:?}");
        let next = links.first().map(|link| {
            let target = link
                .strip_prefix('<')
                .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
                .unwrap_or_else(|| panic!("not a next link: {link}"));
            // A relative reference resolves against the request's URL (RFC 8288, 3986).
            Url::parse(&url).unwrap().join(target).unwrap().to_string()
        });
        let ids = body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Post"]["id"].as_i64().unwrap())
            .collect();
        PageOf { ids, next }
    }

    /// Every page from `start` by following `Link`, calling `between` after each page.
    async fn walk(
        &self,
        token: &str,
        start: &str,
        mut between: impl AsyncFnMut(),
    ) -> Vec<Vec<i64>> {
        let mut pages = Vec::new();
        let mut url = Some(start.to_string());
        while let Some(current) = url {
            let page = self.page_at(token, &current).await;
            assert!(pages.len() < 100, "paging does not end");
            url = page.next;
            pages.push(page.ids);
            between().await;
        }
        pages
    }
}

impl TestApp {
    /// Inserts `n` posts titled `title` by `owner` straight into the database, oldest first
    /// (more posts than a search's window, faster than through the API); `owner` must
    /// already be an author (have written through the API).
    async fn bulk_posts(&self, owner: i64, title: &str, published: bool, n: usize) {
        use diesel::{ExpressionMethods, RunQueryDsl};
        let url = self.config.common.database_url().unwrap();
        let title = title.to_string();
        actix_web::rt::task::spawn_blocking(move || {
            let mut conn = DbConn::establish(&url).unwrap();
            let now = chrono::Utc::now().naive_utc();
            let row = (
                posts::title.eq(title.clone()),
                posts::title_search.eq(title.to_lowercase()),
                posts::content.eq("bulk"),
                posts::published.eq(published),
                posts::created_at.eq(now),
                posts::owner_id.eq(owner),
            );
            for start in (0..n).step_by(500) {
                let rows = vec![row.clone(); (n - start).min(500)];
                with_conn!(&mut conn, |c| diesel::insert_into(posts::table)
                    .values(rows)
                    .execute(c))
                .unwrap();
            }
        })
        .await
        .unwrap();
    }

    /// The ids of every post of `owner` titled `title`, newest first (straight from the
    /// database, for posts made by [`TestApp::bulk_posts`]).
    async fn ids_titled(&self, owner: i64, title: &str) -> Vec<i64> {
        use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
        let url = self.config.common.database_url().unwrap();
        let title = title.to_string();
        actix_web::rt::task::spawn_blocking(move || {
            let mut conn = DbConn::establish(&url).unwrap();
            with_conn!(&mut conn, |c| posts::table
                .filter(posts::owner_id.eq(owner))
                .filter(posts::title.eq(&title))
                .order(posts::id.desc())
                .select(posts::id)
                .load::<i64>(c))
            .unwrap()
        })
        .await
        .unwrap()
    }
}

/// Posts that are neither shown nor hidden by a search: more than the search's window.
const BEYOND_WINDOW: usize = SEARCH_WINDOW as usize + 150;

fn bad_cursor() -> Value {
    json!({ "detail": [{
        "loc": ["query", "cursor"],
        "msg": "invalid cursor: not one this list gave for this search",
        "type": "value_error.cursor",
    }] })
}

service_kit::backend_tests! {
    async fn cursor_pages_walk_the_whole_list_once_while_posts_are_added(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob) = (alice(), bob());
        let mut expected = Vec::new();
        for i in 0..23 {
            // Alice's drafts are hers to see; Bob's are never in her list.
            let id = app.new_post(&alice, &format!("post {i}"), i % 5 != 0).await;
            expected.push(id);
            if i % 4 == 0 {
                app.new_post(&bob, &format!("bob's draft {i}"), false).await;
            }
        }
        expected.reverse();

        let mut added = Vec::new();
        let pages = app
            .walk(&alice, "/posts/?limit=4", async || {
                // New posts (and a draft of Bob's) arrive between every two pages.
                added.push(app.new_post(&bob, "newer", true).await);
                app.new_post(&bob, "newer draft", false).await;
            })
            .await;
        assert_eq!(pages.len(), 6, "{pages:?}");
        assert!(pages[..5].iter().all(|p| p.len() == 4), "{pages:?}");
        assert_eq!(pages[5].len(), 3);
        let seen: Vec<i64> = pages.concat();
        assert_eq!(seen, expected, "no duplicate, no gap, nothing of Bob's drafts");
        assert!(added.iter().all(|id| !seen.contains(id)));

        // The first page now starts with the posts added meanwhile.
        let first = app.page_at(&alice, "/posts/?limit=4").await;
        assert_eq!(first.ids, added.iter().rev().take(4).copied().collect::<Vec<_>>());
    }

    async fn drafts_stay_private_through_cursors(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob) = (alice(), bob());
        let mut public = Vec::new();
        let mut drafts = HashSet::new();
        for i in 0..10 {
            public.push(app.new_post(&alice, &format!("public {i}"), true).await);
            drafts.insert(app.new_post(&alice, &format!("draft {i}"), false).await);
        }
        public.reverse();
        let bobs = app.walk(&bob, "/posts?limit=3", async || {}).await.concat();
        assert_eq!(bobs, public);
        // A cursor Alice got (pointing into her drafts) shows Bob only what he may see.
        let alices = app.page_at(&alice, "/posts/?limit=3").await;
        assert!(alices.ids.iter().any(|id| drafts.contains(id)));
        let from_alices_cursor = app.walk(&bob, alices.next.as_deref().unwrap(), async || {}).await.concat();
        assert!(from_alices_cursor.iter().all(|id| !drafts.contains(id)), "{from_alices_cursor:?}");
        assert_eq!(from_alices_cursor, public[public.len() - from_alices_cursor.len()..]);
        // Searching for drafts through pages finds only one's own.
        let found = app.walk(&bob, "/posts/?search=draft&limit=2", async || {}).await.concat();
        assert!(found.is_empty(), "{found:?}");
        let found = app.walk(&alice, "/posts/?search=DRAFT&limit=2", async || {}).await.concat();
        assert_eq!(found.iter().copied().collect::<HashSet<_>>(), drafts);
    }

    async fn the_link_keeps_limit_and_search_and_is_absent_on_the_last_page(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let mut rust = Vec::new();
        for i in 0..14 {
            let title = if i % 2 == 0 { format!("Rust & friends {i}") } else { format!("other {i}") };
            let id = app.new_post(&token, &title, true).await;
            if i % 2 == 0 {
                rust.push(id);
            }
        }
        rust.reverse();
        let resp = app.list(&token, "search=rust%20%26&limit=3").await;
        let link = resp.headers()["link"].to_str().unwrap().to_string();
        assert!(link.starts_with("<?limit=3&search=rust+%26&cursor="), "{link}");
        assert!(link.ends_with(">; rel=\"next\""), "{link}");

        let pages = app.walk(&token, "/posts/?search=rust%20%26&limit=3", async || {}).await;
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
        assert_eq!(pages.concat(), rust);

        // A last page that is exactly full has no link either, nor does a short list.
        let pages = app.walk(&token, "/posts/?limit=7", async || {}).await;
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [7, 7]);
        assert!(app.page_at(&token, "/posts/?limit=100").await.next.is_none());
        assert!(app.page_at(&token, "/posts/?limit=14").await.next.is_none());
        assert!(app.page_at(&token, "/posts/?limit=13").await.next.is_some());
        assert!(app.page_at(&token, "/posts/?search=nothing%20like%20it").await.next.is_none());
        assert!(app.page_at(&token, "/posts/?limit=0").await.next.is_none());
        // The default limit is spelt out in the link.
        let resp = app.list(&token, "").await;
        assert!(resp.headers()["link"].to_str().unwrap().starts_with("<?limit=10&cursor="));
    }

    async fn skip_counts_from_the_cursor_and_the_link_drops_it(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let ids = app.numbered_posts(&token, 10).await;
        let first = app.page_at(&token, "/posts/?limit=2&skip=1").await;
        assert_eq!(first.ids, ids[1..3]);
        let next = first.next.unwrap();
        assert!(!next.contains("skip"), "{next}");
        assert_eq!(app.page_at(&token, &next).await.ids, ids[3..5]);
        let with_skip = app.page_at(&token, &format!("{next}&skip=2")).await;
        assert_eq!(with_skip.ids, ids[5..7]);
        assert_eq!(app.page_at(&token, &format!("{next}&skip=100")).await.ids, Vec::<i64>::new());
    }

    async fn a_tampered_foreign_or_garbled_cursor_is_422(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        for i in 0..5 {
            app.new_post(&token, &format!("cursor {i}"), true).await;
        }
        let next = app.page_at(&token, "/posts/?limit=2&search=cursor").await.next.unwrap();
        let cursor = Url::parse(&next)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(app.page_at(&token, &format!("/posts/?limit=2&search=CURSOR&cursor={cursor}")).await.ids.len(), 2);

        let mut tampered = cursor.clone().into_bytes();
        tampered[4] = if tampered[4] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let cases = [
            format!("search=cursor&cursor={tampered}"),
            // Made for another search (or none).
            format!("search=curs&cursor={cursor}"),
            format!("cursor={cursor}"),
            format!("search=cursor&cursor={}", &cursor[..cursor.len() - 1]),
            format!("search=cursor&cursor={cursor}A"),
            "cursor=not%20a%20cursor".to_string(),
            "cursor=%E2%9C%93".to_string(),
            format!("cursor={}", "A".repeat(10_000)),
        ];
        for query in cases {
            let (status, body) = status_json(app.list(&token, &query).await).await;
            assert_eq!((status, &body), (422, &bad_cursor()), "{query}");
        }
        // Reported beside the other parameters' errors.
        let (status, body) = status_json(app.list(&token, "limit=500&cursor=xyz").await).await;
        assert_eq!(status, 422);
        let locs: Vec<&Value> = body["detail"].as_array().unwrap().iter().map(|e| &e["loc"]).collect();
        assert_eq!(locs, [&json!(["query", "limit"]), &json!(["query", "cursor"])]);
        // A cursor without a token is still 401 first.
        let resp = app.get(&format!("/posts/?cursor={tampered}"), None).await;
        assert_eq!(resp.status(), 401);
        // An empty cursor is no cursor.
        assert_eq!(app.list_ids(&token, "cursor=&limit=1").await.len(), 1);
    }

    async fn search_matches_non_ascii_text_and_special_characters_literally(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let [aero, japanese, turkish, emoji, discount, near_discount, quoted, star, escape] = app
            .new_posts(&token, [
                "Ærøskøbing HARBOUR",
                "日本語のタイトル",
                "İSTANBUL notes",
                "crab 🦀 party",
                "50%_off today",
                "50xyoff today",
                "she said \"hi\" * twice",
                "a*b?c[d] OR e",
                "C:\\path\\to",
            ])
            .await;

        let q = |s: &str| format!("search={}&limit=100", urlencode(s));
        assert_eq!(app.list_ids(&token, &q("ærøSKØB")).await, [aero]);
        assert_eq!(app.list_ids(&token, &q("harbour")).await, [aero]);
        assert_eq!(app.list_ids(&token, &q("本語のタ")).await, [japanese]);
        assert_eq!(app.list_ids(&token, &q("i̇stanbul")).await, [turkish]);
        assert_eq!(app.list_ids(&token, &q("İstanbul")).await, [turkish]);
        assert_eq!(app.list_ids(&token, &q("🦀 p")).await, [emoji]);
        assert_eq!(app.list_ids(&token, &q("50%_off")).await, [discount]);
        assert_eq!(app.list_ids(&token, &q("0%_o")).await, [discount]);
        assert!(app.list_ids(&token, &q("50%off")).await.is_empty());
        assert!(app.list_ids(&token, &q("50__off")).await.is_empty());
        assert_eq!(app.list_ids(&token, &q("xyoff")).await, [near_discount]);
        assert_eq!(app.list_ids(&token, &q("off today")).await, [near_discount, discount]);
        assert_eq!(app.list_ids(&token, &q("\"hi\" *")).await, [quoted]);
        assert_eq!(app.list_ids(&token, &q("said \"")).await, [quoted]);
        assert_eq!(app.list_ids(&token, &q("*b?c[d] or")).await, [star]);
        assert!(app.list_ids(&token, &q("a*c")).await.is_empty());
        assert!(app.list_ids(&token, &q("hi OR she")).await.is_empty());
        assert!(app.list_ids(&token, &q("harbour NOT")).await.is_empty());
        assert_eq!(app.list_ids(&token, &q("\\path\\")).await, [escape]);
        assert!(app.list_ids(&token, &q("\\\\")).await.is_empty());
    }

    async fn one_and_two_character_searches_answer_like_longer_ones(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let [ab, ba, e_acute, percent] = app.new_posts(&token, ["xAB", "bax", "café", "5%"]).await;
        let drafted = app.new_post(&bob(), "a draft with ab", false).await;

        let q = |s: &str| format!("search={}&limit=100", urlencode(s));
        assert_eq!(app.list_ids(&token, &q("a")).await, [e_acute, ba, ab]);
        assert_eq!(app.list_ids(&token, &q("AB")).await, [ab]);
        assert_eq!(app.list_ids(&token, &q("ba")).await, [ba]);
        assert_eq!(app.list_ids(&token, &q("É")).await, [e_acute]);
        assert_eq!(app.list_ids(&token, &q("fÉ")).await, [e_acute]);
        assert_eq!(app.list_ids(&token, &q("%")).await, [percent]);
        assert_eq!(app.list_ids(&token, &q("_")).await, Vec::<i64>::new());
        assert_eq!(app.list_ids(&token, &q("zz")).await, Vec::<i64>::new());
        assert_eq!(app.list_ids(&bob(), &q("ab")).await, [drafted, ab]);
        // Short searches page by cursor like any other.
        let pages = app.walk(&token, &format!("/posts/?{}", q("a").replace("limit=100", "limit=1")), async || {}).await;
        assert_eq!(pages.concat(), [e_acute, ba, ab]);
    }

    async fn a_search_longer_than_any_title_finds_nothing_without_error(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let long_title = "İ".repeat(300);
        let id = app.new_post(&token, &long_title, true).await;
        // The longest search that can match: a title of 300 characters lower-cased to 600.
        let longest = "i̇".repeat(300);
        assert_eq!(longest.chars().count(), 600);
        assert_eq!(app.list_ids(&token, &format!("search={}", urlencode(&longest))).await, [id]);
        for search in [format!("{longest}i"), "x".repeat(301), "a".repeat(60_000), "%_".repeat(8_000)] {
            let resp = app.list(&token, &format!("search={}", urlencode(&search))).await;
            assert!(resp.headers().get("link").is_none());
            let (status, body) = status_json(resp).await;
            assert_eq!((status, body), (200, json!([])), "{} chars", search.chars().count());
        }
    }

    async fn a_word_only_in_others_drafts_finds_the_published_matches_behind_them(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob, carol) = (alice(), bob(), token_for(3, "carol@example.com"));
        // Oldest: Alice's published matches and her drafts, interleaved.
        let mut alices_public = Vec::new();
        let mut alices_all = Vec::new();
        for i in 0..5 {
            let id = app.new_post(&alice, &format!("Needle {i}"), true).await;
            alices_public.push(id);
            alices_all.push(id);
            if i % 2 == 0 {
                alices_all.push(app.new_post(&alice, &format!("needle draft {i}"), false).await);
            }
        }
        alices_public.reverse();
        alices_all.reverse();
        // Then more of Bob's drafts with the word than the search walks, and newer posts
        // without it.
        app.new_post(&bob, "bob's first", true).await;
        app.bulk_posts(BOB, "bob's NEEDLE draft", false, BEYOND_WINDOW).await;
        app.bulk_posts(BOB, "bob's haystack", true, 40).await;
        let bobs_drafts = app.ids_titled(BOB, "bob's NEEDLE draft").await;
        assert_eq!(bobs_drafts.len(), BEYOND_WINDOW);

        // Others see the published matches only, through cursors and skip.
        let pages = app.walk(&carol, "/posts/?search=needle&limit=2", async || {}).await;
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(pages.concat(), alices_public);
        assert_eq!(app.list_ids(&carol, "search=NEEDLE&limit=2&skip=3").await, alices_public[3..]);
        assert!(app.list_ids(&carol, "search=needle&skip=5").await.is_empty());
        // The owner of the drafts sees them, newest first, then the published matches.
        let expected_bob = [bobs_drafts.clone(), alices_public.clone()].concat();
        let bobs = app.walk(&bob, "/posts/?search=needle&limit=100", async || {}).await;
        assert_eq!(bobs.len(), BEYOND_WINDOW / 100 + 1);
        assert_eq!(bobs.concat(), expected_bob);
        assert_eq!(
            app.list_ids(&bob, &format!("search=needle&limit=3&skip={}", BEYOND_WINDOW - 1)).await,
            expected_bob[BEYOND_WINDOW - 1..BEYOND_WINDOW + 2]
        );
        // Alice sees her own drafts among her published posts, not Bob's.
        let alices = app.walk(&alice, "/posts/?search=needle&limit=3", async || {}).await.concat();
        assert_eq!(alices, alices_all);
        assert_eq!(app.list_ids(&alice, "search=needle&limit=2&skip=2").await, alices_all[2..4]);
        // A cursor Bob got (pointing into his drafts) shows Carol only what she may see.
        let bobs_page = app.page_at(&bob, "/posts/?search=needle&limit=10").await;
        let from_bobs_cursor = app.walk(&carol, bobs_page.next.as_deref().unwrap(), async || {}).await.concat();
        assert_eq!(from_bobs_cursor, alices_public);
    }

    async fn a_word_only_in_the_oldest_posts_pages_through_cursors(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob) = (alice(), bob());
        // Oldest: published matches of both, one draft of each with the word.
        let mut published = Vec::new();
        for i in 0..7 {
            let owner = if i % 2 == 0 { &alice } else { &bob };
            published.push(app.new_post(owner, &format!("Ancient scroll {i}"), true).await);
        }
        let alices_draft = app.new_post(&alice, "ancient draft of alice", false).await;
        let bobs_draft = app.new_post(&bob, "ancient draft of bob", false).await;
        // Then more posts without the word than the search walks (published, and drafts of
        // the searcher), and one newest match at the top, inside the window.
        app.bulk_posts(BOB, "modern times", true, BEYOND_WINDOW).await;
        app.bulk_posts(ALICE, "modern draft", false, 30).await;
        let newest = app.new_post(&bob, "the ANCIENT returns", true).await;
        published.reverse();
        let for_alice: Vec<i64> = [vec![newest, alices_draft], published.clone()].concat();
        let for_bob: Vec<i64> = [vec![newest, bobs_draft], published.clone()].concat();

        for (token, expected) in [(&alice, &for_alice), (&bob, &for_bob)] {
            for limit in [1, 2, 3, 100] {
                let pages = app.walk(token, &format!("/posts/?search=ancient&limit={limit}"), async || {}).await;
                assert_eq!(pages.concat(), *expected, "limit {limit}");
                let (last, full) = pages.split_last().unwrap();
                assert!(full.iter().all(|p| p.len() == limit) && !last.is_empty(), "limit {limit}: {pages:?}");
            }
            // skip passes over the window's match and into the older ones, alone or after a
            // cursor.
            for skip in 0..=expected.len() {
                assert_eq!(
                    app.list_ids(token, &format!("search=ancient&limit=3&skip={skip}")).await,
                    expected[skip..(skip + 3).min(expected.len())],
                    "skip {skip}"
                );
            }
            let first = app.page_at(token, "/posts/?search=ancient&limit=2").await;
            let next = first.next.unwrap();
            assert_eq!(app.page_at(token, &format!("{next}&skip=2")).await.ids, expected[4..6]);
        }
        // A search with no match anywhere, and one of two characters (walked, not indexed).
        assert!(app.walk(&alice, "/posts/?search=nowhere%20to%20be%20found", async || {}).await.concat().is_empty());
        assert_eq!(app.list_ids(&alice, "search=3%29&limit=5").await, Vec::<i64>::new());
        assert_eq!(app.list_ids(&bob, "search=nt&limit=2").await, [newest, bobs_draft]);
    }

    async fn the_search_index_migration_goes_down_and_up_again(backend) {
        const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
        const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
        let app = spawn_app(backend).await;
        let token = alice();
        let before = app.new_post(&token, "indexed before", true).await;
        let url = app.config.common.database_url().unwrap();
        let (index_gone, index_back) = actix_web::rt::task::spawn_blocking(move || {
            let mut conn = DbConn::establish(&url).unwrap();
            let count_index = |conn: &mut DbConn| -> i64 {
                #[derive(diesel::QueryableByName)]
                struct Count {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                use diesel::RunQueryDsl;
                let sql = match conn.backend() {
                    Backend::Postgres => "SELECT count(*) AS n FROM pg_indexes \
                        WHERE indexname IN ('posts_published_title_search_trgm', 'posts_drafts_owner_id_id')",
                    Backend::Sqlite => "SELECT count(*) AS n FROM sqlite_master \
                        WHERE name LIKE 'posts_published_fts%' OR name = 'posts_drafts_owner_id_id'",
                };
                with_conn!(conn, |c| diesel::sql_query(sql).get_result::<Count>(c)).unwrap().n
            };
            let migrations = match backend {
                Backend::Postgres => POSTGRES,
                Backend::Sqlite => SQLITE,
            };
            let reverted = with_conn!(&mut conn, |c| c.revert_last_migration(migrations).map(|v| v.to_string()));
            assert_eq!(reverted.unwrap(), "20261204000002");
            let gone = count_index(&mut conn);
            conn.run_migrations(POSTGRES, SQLITE, 1).unwrap();
            (gone, count_index(&mut conn))
        })
        .await
        .unwrap();
        assert_eq!(index_gone, 0);
        assert!(index_back > 0);
        // Posts from before the index was (re)built are found through it, and new ones too.
        let after = app.new_post(&token, "indexed after", true).await;
        assert_eq!(app.list_ids(&token, "search=indexed").await, [after, before]);
        let resp = app
            .request(Method::PUT, &format!("/posts/{before}"), Some(&token))
            .json(&json!({ "title": "renamed", "content": "c" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(app.list_ids(&token, "search=indexed").await, [after]);
        assert_eq!(app.list_ids(&token, "search=renamed").await, [before]);
        assert_eq!(app.delete_post(&token, after).await.status(), 204);
        assert!(app.list_ids(&token, "search=indexed").await.is_empty());
    }
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_string()
}

#[actix_web::test]
async fn the_openapi_document_describes_the_cursor_and_the_link_header() {
    let app = spawn_app(Backend::Sqlite).await;
    let (status, doc) = status_json(app.get("/openapi.json", None).await).await;
    assert_eq!(status, 200);
    let list = &doc["paths"]["/posts/"]["get"];
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["limit", "skip", "search", "cursor"]);
    let skip = list["parameters"][1]["description"].as_str().unwrap();
    assert!(skip.contains("cursor"), "{skip}");
    let link = &list["responses"]["200"]["headers"]["Link"];
    assert!(
        link["description"]
            .as_str()
            .unwrap()
            .contains("rel=\"next\""),
        "{link}"
    );
}

#[actix_web::test]
async fn postgres_connections_run_without_jit() {
    // A page statement on a table without statistics yet was compiled on every call (30-40 ms
    // each at a million posts): the services' connections turn JIT off.
    let app = spawn_app(Backend::Postgres).await;
    let url = app.config.common.database_url().unwrap();
    let jit = actix_web::rt::task::spawn_blocking(move || {
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            jit: String,
        }
        use diesel::RunQueryDsl;
        let mut conn = DbConn::establish(&url).unwrap();
        with_conn!(&mut conn, |c| diesel::sql_query("SHOW jit")
            .get_result::<Setting>(c))
        .unwrap()
        .jit
    })
    .await
    .unwrap();
    assert_eq!(jit, "off");
}
