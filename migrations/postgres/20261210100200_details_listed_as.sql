-- The listing a cluster's details were fetched for (its `lastModifiedTimestamp` and state). A
-- run that applied a newer listing but not the details (it died, or Palette refused them) no
-- longer hides that they are behind: the next run compares the listing with these.
ALTER TABLE cluster_details ADD COLUMN listed_modified TEXT COLLATE "C";
ALTER TABLE cluster_details ADD COLUMN listed_state TEXT COLLATE "C";
UPDATE cluster_details SET
    listed_modified = (SELECT c.last_modified FROM clusters c
                        WHERE c.env = cluster_details.env AND c.uid = cluster_details.uid),
    listed_state = (SELECT c.state FROM clusters c
                     WHERE c.env = cluster_details.env AND c.uid = cluster_details.uid);
