/**
 * The words masked names and addresses are made of. ASCII only, so that lower() in SQL and
 * toLowerCase() in TypeScript agree. The SQL functions embed these same arrays (sql-functions.ts):
 * one list, so the two implementations can never drift apart.
 */
export const FIRST_NAMES: readonly string[] = [
  'Ada', 'Alan', 'Alice', 'Amara', 'Ana', 'Arjun', 'Ben', 'Bianca', 'Carla', 'Chen', 'Chloe', 'Dario', 'David', 'Elena', 'Emil', 'Eva',
  'Farah', 'Felix', 'Grace', 'Hana', 'Hugo', 'Ines', 'Ivan', 'Jade', 'James', 'Jonas', 'Kai', 'Kenji', 'Lara', 'Leo', 'Lina', 'Lucas',
  'Maya', 'Mei', 'Mila', 'Nadia', 'Nico', 'Noah', 'Nora', 'Omar', 'Oscar', 'Paula', 'Priya', 'Quinn', 'Rafael', 'Rosa', 'Sami', 'Sara',
  'Sofia', 'Tariq', 'Tom', 'Uma', 'Vera', 'Victor', 'Wen', 'Yara', 'Yusuf', 'Zara', 'Zoe', 'Anton', 'Beatriz', 'Daniel', 'Helen', 'Kofi',
];

export const LAST_NAMES: readonly string[] = [
  'Abbott', 'Alvarez', 'Baker', 'Becker', 'Bianchi', 'Brown', 'Castro', 'Chen', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Gomez',
  'Hansen', 'Hughes', 'Ito', 'Jensen', 'Kaur', 'Keller', 'Kim', 'Kowalski', 'Larsen', 'Lee', 'Lopez', 'Martin', 'Meyer', 'Moreau', 'Nagy',
  'Novak', 'Okafor', 'Olsen', 'Park', 'Patel', 'Perez', 'Petrov', 'Quinn', 'Reyes', 'Rossi', 'Sato', 'Schmidt', 'Silva', 'Singh',
  'Smith', 'Suzuki', 'Tanaka', 'Torres', 'Ueda', 'Varga', 'Vogel', 'Wagner', 'Walsh', 'Weber', 'Wong', 'Yilmaz', 'Young', 'Zhang', 'Ziegler',
];

export const STREETS: readonly string[] = [
  'Acacia', 'Ash', 'Aspen', 'Bay', 'Birch', 'Brook', 'Cedar', 'Cherry', 'Church', 'Cliff', 'Elm', 'Fern', 'Forest', 'Garden', 'Hawthorn',
  'Hazel', 'Hill', 'Holly', 'Lake', 'Laurel', 'Lime', 'Linden', 'Maple', 'Meadow', 'Mill', 'Oak', 'Orchard', 'Park', 'Pine', 'Poplar',
  'River', 'Rose', 'Spring', 'Station', 'Sunset', 'Valley', 'Walnut', 'Willow',
];

export const STREET_KINDS: readonly string[] = ['Street', 'Road', 'Avenue', 'Lane', 'Way', 'Drive', 'Close', 'Place'];
