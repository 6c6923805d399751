"""Word lists for the fictional customers (home-made, no Faker): names, places, vehicles, shops, area codes."""

from __future__ import annotations

_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
          "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher",
          "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Steven",
          "Emily", "Andrew", "Michelle", "Joshua", "Amanda", "Kevin", "Melissa", "Brian", "Stephanie", "Maria",
          "Jose", "Luis", "Carmen", "Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Rahul", "Aisha", "Omar",
          "Fatima", "Ahmed", "Olga", "Dmitri", "Chloe", "Liam", "Noah", "Olivia", "Emma", "Sofia", "Mateo",
          "Isabella", "Ethan", "Ava", "Lucas", "Mia", "Kwame", "Amara", "Siobhan", "Declan", "Ingrid", "Lars",
          "Thanh", "Minh", "Grace", "Diego", "Valentina", "Jamal", "Keisha", "Tyrone")
_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
         "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
         "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
         "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
         "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel",
         "Kim", "Chen", "Wang", "Singh", "O'Brien", "Murphy", "Kowalski", "Nowak", "Okafor", "Mensah", "Haddad",
         "Cohen", "Rossi", "Schmidt", "Dubois", "Silva", "Yamamoto", "Tanaka", "Ivanova", "Larsen",
         "Fitzgerald", "MacDonald", "Delgado", "Castillo", "Abernathy", "Whitfield", "Brennan", "Novak", "Osei")
_STREETS = ("Maple", "Oak", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Main", "Church", "High",
            "Franklin", "Highland", "Jefferson", "Lincoln", "Madison", "Chestnut", "Spring", "Walnut", "Sunset",
            "River", "Meadow", "Ridge", "Willow", "Forest", "Cherry", "Prospect", "Mill", "Union", "Summit",
            "Valley", "Orchard", "Birch", "Harbor", "Magnolia", "Dogwood", "Juniper", "Sycamore", "Bay")
_SUFFIXES = ("Street", "St", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr", "Lane", "Ln", "Court", "Ct",
             "Boulevard", "Blvd", "Way", "Place", "Terrace")
_CITIES = (("Springfield", "MA", "011"), ("Worcester", "MA", "016"), ("Framingham", "MA", "017"),
           ("Providence", "RI", "029"), ("Hartford", "CT", "061"), ("New Haven", "CT", "065"),
           ("Stamford", "CT", "069"), ("Albany", "NY", "122"), ("Buffalo", "NY", "142"), ("Rochester", "NY", "146"),
           ("Portland", "ME", "041"), ("Burlington", "VT", "054"), ("Manchester", "NH", "031"), ("Nashua", "NH", "030"),
           ("Newark", "NJ", "071"), ("Trenton", "NJ", "086"), ("Allentown", "PA", "181"), ("Pittsburgh", "PA", "152"),
           ("Harrisburg", "PA", "171"), ("Wilmington", "DE", "198"), ("Baltimore", "MD", "212"),
           ("Annapolis", "MD", "214"), ("Richmond", "VA", "232"), ("Norfolk", "VA", "235"), ("Raleigh", "NC", "276"),
           ("Charlotte", "NC", "282"), ("Columbus", "OH", "432"), ("Cleveland", "OH", "441"),
           ("Ann Arbor", "MI", "481"), ("Grand Rapids", "MI", "495"))
_HIGHWAYS = ("I-90", "I-95", "I-84", "I-91", "I-287", "Route 9", "Route 1", "Route 2", "US-20", "I-81", "I-76",
             "Route 128", "I-495", "I-80", "Route 30")
_VEHICLES = (("Toyota", "Camry"), ("Honda", "Civic"), ("Honda", "CR-V"), ("Ford", "F-150"), ("Chevrolet", "Silverado"),
             ("Toyota", "RAV4"), ("Nissan", "Altima"), ("Subaru", "Outback"), ("Jeep", "Grand Cherokee"),
             ("Hyundai", "Elantra"), ("Kia", "Sorento"), ("Tesla", "Model 3"), ("BMW", "X3"), ("Volkswagen", "Jetta"),
             ("Mazda", "CX-5"), ("Ford", "Escape"), ("Chevrolet", "Equinox"), ("Ram", "1500"), ("Toyota", "Highlander"),
             ("Audi", "A4"))
_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "comcast.net",
            "proton.me", "verizon.net")
_SHOPS = ("Metro Auto Body", "Precision Collision", "Main Street Auto Repair", "Valley Body Works",
          "Gold Star Collision", "Northside Auto Care", "Riverside Paint & Body", "Crossroads Collision Center")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DATE_FORMATS = ("%B {d}, %Y", "{m}/{d}/%Y", "%Y-%m-%d", "{d} %B %Y", "%b {d}, %Y")

# US area codes in service (customers' numbers are real numbers, so detectors see realistic input)
_AREA_CODES = (
    201, 202, 203, 205, 206, 207, 208, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228, 229,
    231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 281, 301, 302, 303, 304,
    305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323, 330, 334, 336, 337,
    339, 347, 351, 352, 360, 361, 386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415,
    417, 419, 423, 424, 425, 430, 432, 434, 435, 440, 443, 469, 478, 479, 480, 484, 501, 502, 503, 504,
    505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518, 520, 530, 540, 541, 559, 561, 562, 563, 567,
    570, 571, 573, 574, 575, 580, 585, 586, 601, 602, 603, 605, 606, 607, 608, 609, 610, 612, 614, 615,
    616, 617, 618, 619, 620, 623, 626, 630, 631, 636, 641, 646, 650, 651, 660, 661, 662, 678, 682, 701,
    702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724, 727, 731, 732, 734,
    737, 740, 754, 757, 760, 763, 765, 770, 772, 773, 774, 775, 781, 785, 786, 801, 802, 803, 804, 805,
    806, 808, 810, 812, 813, 814, 815, 816, 817, 818, 828, 830, 831, 832, 843, 845, 847, 848, 850, 856,
    857, 858, 859, 860, 862, 863, 864, 865, 870, 872, 878, 901, 903, 904, 906, 907, 908, 909, 910, 912,
    913, 914, 915, 916, 917, 918, 919, 920, 925, 928, 931, 936, 937, 940, 941, 947, 949, 951, 952, 954,
    956, 970, 971, 972, 973, 978, 979, 980, 985, 989,
)
