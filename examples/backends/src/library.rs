//! `example.library.v1.LibraryService`: an in-memory bookstore whose methods
//! carry google.api.http annotations, so the demo and the end-to-end tests can
//! drive REST routes (path templates, query parameters, `body: "book"`, PATCH with
//! an update mask, DELETE returning `Empty`, a custom `:archive` verb).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tonic::{Request, Response, Status};

use crate::pb::example::library::v1::library_service_server::LibraryService;
use crate::pb::example::library::v1::{
    ArchiveBookRequest, Book, CreateBookRequest, DeleteBookRequest, Genre, GetBookRequest,
    ListBooksRequest, ListBooksResponse, UpdateBookRequest,
};

/// Default and maximum page size of `ListBooks`.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;

/// The bookstore: books in insertion order behind a mutex (the example needs
/// clarity, not throughput). Cloning shares the store.
#[derive(Debug, Clone, Default)]
pub struct LibraryStore {
    books: Arc<Mutex<Vec<Book>>>,
}

impl LibraryStore {
    /// A store with `shelves/1/books/1`, `shelves/1/books/2` and
    /// `shelves/2/books/1`, so the demo's curl commands work out of the box.
    pub fn seeded() -> Self {
        let store = LibraryStore::default();
        let now = prost_types::Timestamp::from(SystemTime::now());
        let seed = [
            (
                "shelves/1/books/1",
                "The Left Hand of Darkness",
                "Ursula K. Le Guin",
                304,
                Genre::Fiction,
            ),
            (
                "shelves/1/books/2",
                "The Structure of Scientific Revolutions",
                "Thomas S. Kuhn",
                264,
                Genre::Science,
            ),
            (
                "shelves/2/books/1",
                "Leaves of Grass",
                "Walt Whitman",
                145,
                Genre::Poetry,
            ),
        ];
        let mut books = store.books.lock().expect("fresh mutex");
        for (name, title, author, page_count, genre) in seed {
            books.push(Book {
                name: name.into(),
                title: title.into(),
                author: author.into(),
                page_count,
                genre: genre.into(),
                create_time: Some(now),
                archived: false,
            });
        }
        drop(books);
        store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Book>> {
        // A panic while holding the lock cannot leave a Vec<Book> inconsistent.
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Checks `shelves/{shelf}` and returns `shelf`.
fn parse_shelf(parent: &str) -> Result<&str, Status> {
    match parent.strip_prefix("shelves/") {
        Some(shelf) if !shelf.is_empty() && !shelf.contains('/') => Ok(shelf),
        _ => Err(Status::invalid_argument(format!(
            "parent must look like shelves/{{shelf}}, got {parent:?}"
        ))),
    }
}

/// Checks `shelves/{shelf}/books/{book}`.
fn check_book_name(name: &str) -> Result<(), Status> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["shelves", shelf, "books", book] if !shelf.is_empty() && !book.is_empty() => Ok(()),
        _ => Err(Status::invalid_argument(format!(
            "book name must look like shelves/{{shelf}}/books/{{book}}, got {name:?}"
        ))),
    }
}

fn not_found(name: &str) -> Status {
    Status::not_found(format!("book {name:?} not found"))
}

#[tonic::async_trait]
impl LibraryService for LibraryStore {
    async fn get_book(&self, request: Request<GetBookRequest>) -> Result<Response<Book>, Status> {
        let name = &request.get_ref().name;
        check_book_name(name)?;
        let books = self.lock();
        let book = books
            .iter()
            .find(|b| &b.name == name)
            .ok_or_else(|| not_found(name))?;
        Ok(Response::new(book.clone()))
    }

    async fn list_books(
        &self,
        request: Request<ListBooksRequest>,
    ) -> Result<Response<ListBooksResponse>, Status> {
        let req = request.into_inner();
        let shelf = parse_shelf(&req.parent)?;
        let prefix = format!("shelves/{shelf}/books/");
        let page_size = match req.page_size {
            n if n < 0 => return Err(Status::invalid_argument("page_size must not be negative")),
            0 => DEFAULT_PAGE_SIZE,
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        // Page tokens are plain offsets: this is an example, not an API to copy.
        let offset: usize = if req.page_token.is_empty() {
            0
        } else {
            req.page_token
                .parse()
                .map_err(|_| Status::invalid_argument("invalid page_token"))?
        };
        let filter = req.filter.to_lowercase();
        let books = self.lock();
        let matching: Vec<&Book> = books
            .iter()
            .filter(|b| b.name.starts_with(&prefix))
            .filter(|b| {
                filter.is_empty()
                    || b.title.to_lowercase().contains(&filter)
                    || b.author.to_lowercase().contains(&filter)
            })
            .collect();
        let page: Vec<Book> = matching
            .iter()
            .skip(offset)
            .take(page_size)
            .map(|b| (*b).clone())
            .collect();
        let next = offset + page.len();
        Ok(Response::new(ListBooksResponse {
            books: page,
            next_page_token: if next < matching.len() {
                next.to_string()
            } else {
                String::new()
            },
        }))
    }

    async fn create_book(
        &self,
        request: Request<CreateBookRequest>,
    ) -> Result<Response<Book>, Status> {
        let req = request.into_inner();
        let shelf = parse_shelf(&req.parent)?.to_owned();
        let mut book = req
            .book
            .ok_or_else(|| Status::invalid_argument("book is required"))?;
        if book.title.is_empty() {
            return Err(Status::invalid_argument("book.title is required"));
        }
        let mut books = self.lock();
        let id = if req.book_id.is_empty() {
            let prefix = format!("shelves/{shelf}/books/");
            let highest = books
                .iter()
                .filter_map(|b| b.name.strip_prefix(&prefix)?.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            (highest + 1).to_string()
        } else if req.book_id.contains('/') {
            return Err(Status::invalid_argument("book_id must not contain '/'"));
        } else {
            req.book_id
        };
        book.name = format!("shelves/{shelf}/books/{id}");
        if books.iter().any(|b| b.name == book.name) {
            return Err(Status::already_exists(format!(
                "book {:?} already exists",
                book.name
            )));
        }
        book.create_time = Some(prost_types::Timestamp::from(SystemTime::now()));
        book.archived = false;
        books.push(book.clone());
        Ok(Response::new(book))
    }

    async fn update_book(
        &self,
        request: Request<UpdateBookRequest>,
    ) -> Result<Response<Book>, Status> {
        let req = request.into_inner();
        let update = req
            .book
            .ok_or_else(|| Status::invalid_argument("book is required"))?;
        check_book_name(&update.name)?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let mut books = self.lock();
        let book = books
            .iter_mut()
            .find(|b| b.name == update.name)
            .ok_or_else(|| not_found(&update.name))?;
        let all = paths.is_empty();
        for path in &paths {
            if !matches!(path.as_str(), "title" | "author" | "page_count" | "genre") {
                return Err(Status::invalid_argument(format!(
                    "update_mask: field {path:?} cannot be updated (allowed: title, author, page_count, genre)"
                )));
            }
        }
        let wants = |field: &str| all || paths.iter().any(|p| p == field);
        if wants("title") {
            book.title = update.title;
        }
        if wants("author") {
            book.author = update.author;
        }
        if wants("page_count") {
            book.page_count = update.page_count;
        }
        if wants("genre") {
            book.genre = update.genre;
        }
        Ok(Response::new(book.clone()))
    }

    async fn delete_book(
        &self,
        request: Request<DeleteBookRequest>,
    ) -> Result<Response<()>, Status> {
        let name = &request.get_ref().name;
        check_book_name(name)?;
        let mut books = self.lock();
        let index = books
            .iter()
            .position(|b| &b.name == name)
            .ok_or_else(|| not_found(name))?;
        books.remove(index);
        Ok(Response::new(()))
    }

    async fn archive_book(
        &self,
        request: Request<ArchiveBookRequest>,
    ) -> Result<Response<Book>, Status> {
        let name = &request.get_ref().name;
        check_book_name(name)?;
        let mut books = self.lock();
        let book = books
            .iter_mut()
            .find(|b| &b.name == name)
            .ok_or_else(|| not_found(name))?;
        book.archived = true;
        Ok(Response::new(book.clone()))
    }
}
