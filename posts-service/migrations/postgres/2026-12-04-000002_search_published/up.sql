-- Search whose cost is bounded by the page (store.rs, `page_of_posts_with_votes`): the newest
-- posts are walked first, and only when they do not fill the page are older matches looked
-- up, from indexes holding nothing the caller may not see:
--
-- * published titles only: a trigram index of an expression that is NULL for drafts, so a
--   word found only in drafts costs nothing, and ANALYZE keeps statistics of exactly the
--   rows it indexes (the planner's estimate for a search is the published matches');
-- * each owner's drafts: a small partial index, walked for the caller's own.
--
-- The trigram index of every title is dropped: no statement reads it any more, and each new
-- post would still pay for it.
CREATE INDEX posts_published_title_search_trgm ON posts
    USING gin ((CASE WHEN published THEN title_search END) gin_trgm_ops);

CREATE INDEX posts_drafts_owner_id_id ON posts (owner_id, id) WHERE NOT published;

DROP INDEX posts_title_search_trgm;
